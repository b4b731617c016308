/**
 * Device classes and their power envelopes, as in the Python original
 * (iot-swarm 0.2.0): TDP / idle / min / max watts, plus the nominal battery
 * of the `minimal` class (an ESP32-class board on a 1,000 mAh LiPo: 3.7 Wh).
 *
 * `full` is a Raspberry Pi 4 class board, `standard` a Pi Zero 2 W class
 * board, `minimal` a microcontroller with a radio.
 */
export type DeviceClass = 'full' | 'standard' | 'minimal';

export const DEVICE_CLASSES: readonly DeviceClass[] = ['full', 'standard', 'minimal'];

export interface DeviceProfile {
  /** Power at 100 % CPU, W. */
  readonly tdpW: number;
  /** Power at 0 % CPU with the system up, W. */
  readonly idleW: number;
  /** Floor of the modelled power, W. */
  readonly minW: number;
  /** Ceiling of the modelled power, W. */
  readonly maxW: number;
  /** Nominal battery capacity when the class usually runs on one, Wh; null otherwise. */
  readonly batteryWh: number | null;
}

export const DEVICE_PROFILES: Readonly<Record<DeviceClass, DeviceProfile>> = {
  full: { tdpW: 7.5, idleW: 2.7, minW: 2.0, maxW: 7.5, batteryWh: null },
  standard: { tdpW: 1.5, idleW: 0.4, minW: 0.1, maxW: 1.5, batteryWh: null },
  minimal: { tdpW: 0.5, idleW: 0.02, minW: 0.01, maxW: 0.5, batteryWh: 3.7 },
};

export function isDeviceClass(x: unknown): x is DeviceClass {
  return x === 'full' || x === 'standard' || x === 'minimal';
}
