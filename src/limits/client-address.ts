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
 * all (`MAX_HTTP_SOCKETS`, `MAX_CONNECTIONS`) bound that. An IPv4-mapped
 * IPv6 address (`::ffff:1.2.3.4`, what a dual-stack socket reports) is its
 * IPv4 address.
 */
export function clientOf(address: string | undefined): string {
  if (!address) return 'unknown';
  if (!ipaddr.isValid(address)) return address.slice(0, MAX_ADDRESS_LENGTH);
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${new ipaddr.IPv6([...v6.parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}
