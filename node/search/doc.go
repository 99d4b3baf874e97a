// Package search is a node's full-text index of chat messages: derived
// state, kept in the node's data directory, rebuilt from the log whenever
// it is missing, damaged, behind or of other rules, and never trusted over
// the log. It imports nothing of ours; the node feeds it (node/search*.go).
//
// What it owns:
//   - The rules of words (Tokenizer): Unicode normalization, case folding,
//     words of any script, pairs of characters for scripts written without
//     spaces. The same rules tokenize texts, queries and the check of a hit.
//   - The query language (Parse): words, "quoted phrases", prefix*; every
//     clause must match. Matcher decides whether a text matches: the index
//     only proposes candidates, and the caller holds each to the message's
//     current text (an edit or a delete since makes an old text stale).
//   - The index (Index): an inverted index of documents (a message's text
//     at one entry: a post, a direct message, an edit), numbered by their
//     order in the log. Terms (tokens, each message's conversation and
//     author, and pairs of frequent words) are known by a 64-bit hash; each
//     term's postings are the documents that hold it with the token's
//     positions (for phrases), delta-encoded in blocks of 128 behind a skip
//     table. Pair terms: two of the index's pair words (the 256 in the most
//     of its first 2,048 documents) in a row, at an even place, are also
//     filed as one term, so a phrase of frequent words is an intersection
//     of short lists instead of a walk down long ones. Documents are
//     added in log order to a memory segment, which is written as an
//     immutable segment every FlushDocs documents; MergeFactor consecutive
//     segments of one size class are merged into one in the background, so
//     N documents are O(log N) segments. A manifest names the segments and
//     the last entry they cover; the entries after it are indexed again
//     from the log at the next start.
//   - Search: newest first. Within a segment the clauses' posting lists
//     are intersected backwards (leapfrog with the cheapest list first);
//     a phrase also checks the positions (of its pairs where it can); a
//     prefix is the union of the
//     words that start with it (at most MaxPrefixTerms per segment, or a
//     PrefixError). Conversations the searcher may not read are skipped
//     before the caller sees them.
//
// Memory does not grow with history: per segment, every 64th term hash
// and word, and its conversations; the memory segment holds at most
// FlushDocs documents. Postings and documents are read with pread; the
// operating system's page cache is the cache.
//
// Invariants:
//   - Same entries, same answers: segments cut at other places (a flush at
//     shutdown, a merge not yet done) give the same candidates in the same
//     order, because documents keep log order everywhere.
//   - A segment is written whole (files, then its meta, each fsynced)
//     before the manifest names it; files no manifest names are removed at
//     open; a segment whose size or CRC-32C is off is dropped with every
//     later one (they are indexed again).
package search
