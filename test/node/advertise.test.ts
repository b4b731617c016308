/**
 * The advertised host: explicit setting, specific bind, the interface toward
 * the first join peer (UDP connect on loopback, no packet sent), else the
 * first external IPv4.
 */
import { describe, expect, it } from 'vitest';
import { firstExternalIpv4, localAddressToward, resolveAdvertiseHost } from '../../src/node/advertise.js';

describe('resolveAdvertiseHost', () => {
  it('an explicit advertise_address wins over everything', async () => {
    expect(
      await resolveAdvertiseHost({
        advertise: '192.0.2.7',
        bind: '127.0.0.1',
        join: [{ host: '127.0.0.1', port: 9 }],
      }),
    ).toBe('192.0.2.7');
  });

  it('a specific bind address is advertised as is', async () => {
    expect(await resolveAdvertiseHost({ advertise: '', bind: '127.0.0.1', join: [] })).toBe('127.0.0.1');
  });

  it('with a wildcard bind and a join list: the local address toward the first join peer', async () => {
    // Toward a loopback peer the kernel picks 127.0.0.1, which "first external IPv4" would never give.
    expect(await localAddressToward('127.0.0.1', 5555)).toBe('127.0.0.1');
    expect(
      await resolveAdvertiseHost({
        advertise: '',
        bind: '0.0.0.0',
        join: [
          { host: '127.0.0.1', port: 5555 },
          { host: '192.0.2.1', port: 5555 },
        ],
      }),
    ).toBe('127.0.0.1');
  });

  it('with a wildcard bind and no join list, or an unresolvable peer: the first external IPv4', async () => {
    expect(await resolveAdvertiseHost({ advertise: '', bind: '0.0.0.0', join: [] })).toBe(
      firstExternalIpv4(),
    );
    expect(
      await resolveAdvertiseHost({
        advertise: '',
        bind: '0.0.0.0',
        join: [{ host: 'no-such-host.invalid', port: 1 }],
      }),
    ).toBe(firstExternalIpv4());
  });
});
