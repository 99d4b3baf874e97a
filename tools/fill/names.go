package fill

import "strconv"

// Names are valid chat and room names (1-32 of a-z, 0-9, _ and -, as the
// SSH front end requires), unique, and the same for every run.

// firstNames are the users' names; past them a number is added (alice,
// bob, ..., alice1, bob1, ...). None ends in a digit, so none repeats.
var firstNames = []string{
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
	"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda",
	"amir", "bea", "chen", "dmitri", "eva", "farah", "goran", "hana", "ines", "jonas",
	"kofi", "lena", "mateo", "noor", "oskar", "priya", "quinn", "rosa", "sami", "tariq",
	"uma", "vera", "wen", "xavier", "yusuf", "zoe", "aiko", "bruno", "chloe", "diego",
}

// roomTopics name the rooms after "general", then again with a number.
var roomTopics = []string{
	"random", "dev", "ops", "design", "support", "release", "incidents", "music", "books", "games",
	"food", "travel", "sports", "movies", "pets", "garden", "coffee", "jobs", "hiring", "meta",
	"golang", "rust", "linux", "security", "databases", "networking", "frontend", "backend", "mobile", "testing",
}

func userNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = firstNames[i%len(firstNames)]
		if k := i / len(firstNames); k > 0 {
			out[i] += strconv.Itoa(k)
		}
	}
	return out
}

func roomNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		if i == 0 {
			out[i] = "general"
			continue
		}
		j := i - 1
		out[i] = roomTopics[j%len(roomTopics)]
		if k := j / len(roomTopics); k > 0 {
			out[i] += "-" + strconv.Itoa(k)
		}
	}
	return out
}

// words make up the messages' text.
var words = []string{
	"the", "a", "to", "and", "of", "in", "is", "it", "that", "for", "on", "with", "this", "we", "you", "i",
	"be", "have", "not", "are", "but", "at", "so", "if", "or", "can", "just", "now", "then", "there",
	"deploy", "build", "test", "node", "leader", "log", "commit", "index", "term", "cluster", "server",
	"message", "room", "chat", "ssh", "key", "branch", "merge", "review", "patch", "bug", "fix", "issue",
	"release", "version", "config", "timeout", "latency", "disk", "fsync", "network", "packet", "retry",
	"today", "tomorrow", "yesterday", "morning", "lunch", "coffee", "meeting", "later", "soon", "again",
	"looks", "good", "great", "fine", "broken", "slow", "fast", "weird", "done", "ready", "working",
	"think", "know", "see", "try", "check", "run", "push", "pull", "ship", "wait", "help", "thanks",
	"please", "sure", "maybe", "yes", "no", "ok", "nice", "cool", "agreed", "why", "how", "what", "when",
	"who", "where", "does", "did", "will", "would", "should", "could", "about", "after", "before", "still",
}
