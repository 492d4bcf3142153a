/** A kind of Redis error that repeats, with what to do about it. */
const HINTS: readonly [RegExp, string][] = [
  [
    /\b(CROSSSLOT|MOVED|ASK|CLUSTERDOWN)\b/,
    "REDIS_URL points at a Redis Cluster node; tickler runs on one Redis server",
  ],
  [/\bREADONLY\b/, "Redis became a read-only replica (a failover?); point REDIS_URL at the primary"],
  [
    /\b(NOAUTH|WRONGPASS|NOPERM)\b/,
    "Redis refuses this connection's credentials; check the user and password in REDIS_URL",
  ],
  [/\bOOM\b/, "Redis is out of memory (maxmemory): free some or raise the limit"],
  [/\bMISCONF\b/, "Redis cannot write its snapshot (MISCONF): check its disk"],
  [/\bLOADING\b/, "Redis is loading its data set; this passes on its own"],
];

/** What to do about a Redis error, when it is one of the kinds that repeat until someone acts. */
export function redisErrorHint(message: string): string | undefined {
  return HINTS.find(([pattern]) => pattern.test(message))?.[1];
}
