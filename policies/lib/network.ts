/**
 * IPv4 blocks as NetworkPolicies write them, and the one address no
 * workspace may reach: the cloud instance metadata endpoint, which hands out
 * the node's cloud credentials (AWS, GCP and Azure alike). The program keeps
 * it out of every egress block it writes; the pack checks that nothing else
 * lets it in.
 */

export const metadataAddress = "169.254.169.254";
/** The link-local range the endpoint sits in. */
export const linkLocalRange = "169.254.0.0/16";

const toNumber = (ip: string): number | undefined => {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
    return parts.reduce((n, p) => n * 256 + p, 0);
};

function parse(cidr: string): { base: number; prefix: number } | undefined {
    const [ip, bits] = cidr.split("/");
    const base = toNumber(ip ?? "");
    const prefix = bits === undefined ? 32 : Number(bits);
    return base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32 ? undefined : { base, prefix };
}

/** Does an IPv4 CIDR contain an address? (Undefined when the CIDR is not IPv4.) */
export function cidrContains(cidr: string, ip: string): boolean | undefined {
    const block = parse(cidr);
    const a = toNumber(ip);
    if (block === undefined || a === undefined) return undefined;
    const size = 2 ** (32 - block.prefix);
    return Math.floor(a / size) === Math.floor(block.base / size);
}

/**
 * The `except` an egress block needs so it never reaches the metadata
 * endpoint: the link-local range for a wider block, the one address for a
 * block inside that range, nothing for a block that does not cover it (or is
 * exactly the endpoint, which no except can carve out: the pack refuses it).
 */
export function metadataExcept(cidr: string): string[] {
    const block = parse(cidr);
    if (block === undefined || cidrContains(cidr, metadataAddress) !== true || block.prefix === 32) return [];
    return block.prefix < 16 ? [linkLocalRange] : [`${metadataAddress}/32`];
}
