/*
 * The hash of every uthash table in the runtime (include this, not <uthash.h>:
 * all users of a table must hash alike).  The keys are small: object ids (16
 * bytes), sequence numbers, task keys, actor names.  A multiply-xorshift over
 * 8-byte words with a 64-bit finaliser costs a fraction of uthash's default
 * (Jenkins) per lookup and spreads these keys over the buckets as well.
 */
#ifndef RMPI_BASE_HASH_H
#define RMPI_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline unsigned rmpi_hash_bytes(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;

    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    h ^= h >> 30;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return (unsigned)h;
}

#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = rmpi_hash_bytes((keyptr), (size_t)(keylen)))
#include <uthash.h>

#endif
