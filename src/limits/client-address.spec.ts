import { clientOf } from './client-address.js';

describe('clientOf', () => {
  it('counts an IPv4 address as itself, however a dual-stack socket spells it', () => {
    expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:cb00:7107')).toBe('203.0.113.7');
  });

  it('counts an IPv6 address that carries an IPv4 one (NAT64, 6to4, Teredo) as that IPv4 address', () => {
    expect(clientOf('64:ff9b::cb00:7107')).toBe('203.0.113.7');
    // 6to4: every /64 under 2002:cb00:7107::/48 is the one IPv4 address's.
    expect(clientOf('2002:cb00:7107::1')).toBe('203.0.113.7');
    expect(clientOf('2002:cb00:7107:ffff::1')).toBe('203.0.113.7');
    // Teredo: the client's address inverted in the last 32 bits, its Teredo server's in bits 32-63.
    expect(clientOf('2001:0:4136:e378:8000:63bf:34ff:8ef8')).toBe('203.0.113.7');
    expect(clientOf('2001:0:4136:e378:8000:63bf:34ff:8ef7')).toBe('203.0.113.8');
  });

  it('counts the addresses of one IPv6 /64 as one client, whatever their spelling, and other /64s apart', () => {
    const one = ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0db8:0001:0002:0:0:0:9', '2001:DB8:1:2::abcd', '2001:db8:1:2::1%eth0'];
    expect(new Set(one.map(clientOf))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(clientOf('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientOf('2001:db8::1:0:0:1')).toBe('2001:db8::/64');
    expect(clientOf('::1')).toBe('::/64');
    // Link-local: a host on the link may take any of them.
    expect(new Set(['fe80::1', 'fe80::2', 'fe80::1%eth0'].map(clientOf))).toEqual(new Set(['fe80::/64']));
  });

  it('keys what is not an address by its first 64 characters, and no address as unknown', () => {
    expect(clientOf('x'.repeat(100))).toBe('x'.repeat(64));
    expect(clientOf(undefined)).toBe('unknown');
    expect(clientOf('')).toBe('unknown');
  });
});
