/**
 * Shards and their Redis keys.
 *
 * A topic's shard is FNV-1a (32-bit, over its UTF-16 code units) modulo the
 * number of shards: a pure function of the topic, the same in every process
 * and every version of this package. Changing the number of shards moves
 * topics, so it is fixed for the life of the data.
 *
 * Everything of shard `s` lives in one cluster slot, through the hash tag
 * `{<prefix><s>}`: its stream, the key holding the last id it generated, the
 * append de-duplication hashes and its sharded pub/sub channel. So one Lua
 * script touches all of it atomically, on one node, and `SPUBLISH` from that
 * script stays on the shard.
 */

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** The shard of `topic` among `shards`. */
export function shardOf(topic: string, shards: number): number {
  let hash = FNV_OFFSET
  for (let i = 0; i < topic.length; i++) {
    hash ^= topic.charCodeAt(i)
    hash = Math.imul(hash, FNV_PRIME)
  }
  return (hash >>> 0) % shards
}

/** The Redis names of one shard's data. */
export interface ShardKeys {
  /** The stream (`XADD`, `XRANGE`). */
  stream: string
  /** The id the stream generated last (`GET`): cheap to poll. */
  last: string
  /** Recently appended nonces, newest and previous generation (see append.ts). */
  nonces: string
  previousNonces: string
  /** The sharded pub/sub channel (`SPUBLISH`, `SSUBSCRIBE`). */
  channel: string
}

/** The keys of shard `shard` under `prefix` (which holds no `{` or `}`). */
export function shardKeys(prefix: string, shard: number): ShardKeys {
  const tag = `{${prefix}${shard}}`
  return {
    stream: tag,
    last: `${tag}:last`,
    nonces: `${tag}:nonces`,
    previousNonces: `${tag}:nonces:previous`,
    channel: `${tag}:events`,
  }
}
