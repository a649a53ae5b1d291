import ipaddr from 'ipaddr.js';

/** An address is at most 45 characters (IPv6 with an IPv4 tail); what is not one is cut to this. */
const MAX_ADDRESS_LENGTH = 64;

/**
 * The client a limit counts for an address: an IPv4 address as it is, an
 * IPv6 address by its /64. A /64 is the least an IPv6 network is given (its
 * hosts pick their own addresses in it), so counting each IPv6 address would
 * let one host go around every limit by changing addresses; a /64 is one
 * home or one host, as one IPv4 address behind a NAT is. A holder of a
 * larger prefix (a /56 or /48) still counts as many clients: the limits in
 * all (`MAX_HTTP_SOCKETS`, `MAX_CONNECTIONS`) bound that. An IPv6 address
 * that carries an IPv4 one is that IPv4 address: IPv4-mapped
 * (`::ffff:1.2.3.4`, what a dual-stack socket reports), translated
 * (`64:ff9b::/96`: IPv4 clients as an IPv6-only server behind a translator
 * sees them, all in one /64), 6to4 (`2002::/16`, where one IPv4 address
 * owns 65,536 /64s) and Teredo (`2001::/32`, the client's IPv4 address in
 * the last 32 bits, inverted: every Teredo client would otherwise share the
 * /64 of its Teredo server).
 */
export function clientOf(address: string | undefined): string {
  if (!address) return 'unknown';
  if (!ipaddr.isValid(address)) return address.slice(0, MAX_ADDRESS_LENGTH);
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  const range = v6.range();
  if (range === 'rfc6052') return ipv4Of(v6.parts[6], v6.parts[7]);
  if (range === '6to4') return ipv4Of(v6.parts[1], v6.parts[2]);
  if (range === 'teredo') return ipv4Of(v6.parts[6] ^ 0xffff, v6.parts[7] ^ 0xffff);
  return `${new ipaddr.IPv6([...v6.parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}

/** The IPv4 address written as two 16-bit parts of an IPv6 one. */
function ipv4Of(high: number, low: number): string {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]).toString();
}
