/** Every command group of the `swarm` program, in help order. */
import type { Registrar } from '../context.js';
import { register as version } from './version.js';

export const registrars: readonly Registrar[] = [version];
