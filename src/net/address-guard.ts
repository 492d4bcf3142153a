import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Addresses a delivery may never reach, whatever a trigger or a DNS answer says: link-local ranges, where
 * cloud metadata services live (169.254.169.254, fd00:ec2::254), and the unspecified addresses. Checked
 * when a target URL is accepted and again on every connection (so DNS rebinding cannot get around it).
 */
const BLOCKED = new BlockList();
BLOCKED.addSubnet("169.254.0.0", 16, "ipv4");
BLOCKED.addAddress("0.0.0.0", "ipv4");
BLOCKED.addSubnet("fe80::", 10, "ipv6");
BLOCKED.addAddress("fd00:ec2::254", "ipv6");
BLOCKED.addAddress("::", "ipv6");
const BLOCKED_HOSTS = new Set(["metadata.google.internal", "metadata", "instance-data"]);

/** Whether an IP address (v4 or v6, v4-mapped included) is one deliveries must not reach. */
export function isBlockedAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip);
  return family !== 0 && BLOCKED.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** Why a target host is refused, or null when it may be used. */
export function blockedHostReason(hostname: string): string | null {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (BLOCKED_HOSTS.has(host)) return `${host} is a cloud metadata host`;
  if (isBlockedAddress(host))
    return `${host} is a link-local or unspecified address (cloud metadata lives there)`;
  return null;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `dns.lookup` for sockets that refuses blocked addresses after resolution. */
export function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    const bad = list.find((entry) => isBlockedAddress(entry.address));
    if (bad) {
      const refused = Object.assign(
        new Error(
          `refused to connect to ${bad.address} (${hostname}): link-local and metadata addresses are blocked`,
        ),
        { code: "EBLOCKED" },
      );
      return callback(refused, []);
    }
    if ((options as { all?: boolean }).all) return callback(null, list);
    const first = list[0];
    return first
      ? callback(null, first.address, first.family)
      : callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), []);
  });
}
