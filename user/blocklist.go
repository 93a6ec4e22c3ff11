package user

import (
	"sync"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// The common-password list.
//
// It comes from zxcvbn, Dropbox's password strength estimator (MIT
// licence), through its Go port github.com/trustelem/zxcvbn/frequency
// v1.0.1: frequency-ranked lists measured from public data. The "passwords"
// list holds 30,000 passwords ranked by how often they occur in public
// breach corpora.
//
// That list alone is not enough. zxcvbn's generator
// (data-scripts/build_frequency_lists.py) keeps each token in only one list,
// the one where it ranks highest, so many of the most common passwords were
// moved to its other lists: "jennifer", the 10th most common password of 8
// characters or more in zxcvbn's own breach data, is in female_names;
// "basketball" is in english_wikipedia. Measured against that data
// (data/passwords.txt in the module), the "passwords" list misses 1,508 of
// the 9,456 passwords of at least 8 characters among the 30,000 most
// common. So the blocklist is the union of all six lists (passwords,
// english_wikipedia, us_tv_and_film, surnames, female_names, male_names),
// about 94,000 distinct lower-cased entries, 41,000 of them at least 8
// code points long. Of the passwords of 8 characters or more in that
// data, it covers every one among the 15,000 most common and all but 21
// among the 30,000 most common. As a consequence,
// common English words, names and surnames are refused too when they are
// the whole password, as NIST SP 800-63B-4 (3.1.1.2) recommends for
// dictionary words. Passphrases made of several words are not affected:
// the comparison is of whole strings.
//
// A list like this has to come from data: it is measured from leaked
// passwords and word frequencies, not written by hand, and copying 94,000
// lines into this repository would hide their origin and licence. The
// module dependency keeps both visible. The test suite checks that at least
// 3,000 entries meet the default length policy (ASVS 6.2.4).
//
// The lower-cased set is built on first use, not at package
// initialization, so that programs that never check a password do not pay
// for it (the set takes a few megabytes).
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	n := 0
	for _, list := range frequency.FrequencyLists {
		n += len(list)
	}
	set := make(map[string]struct{}, n)
	for _, list := range frequency.FrequencyLists {
		for _, p := range list {
			set[foldPassword(p)] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether s is, ignoring case, on the blocklist of
// common passwords: the roughly 30,000 most common passwords of public
// breach corpora together with the common words and names zxcvbn ranks
// (see blocklist.go for the origin and why the word lists are included).
// s is compared whole, after NFKC normalization and lower-casing:
// "Password1" and "PASSWORD1" are common, "password1!" is not. Invalid
// UTF-8 is never common.
func IsCommonPassword(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return isCommonFolded(foldPassword(s))
}

// isCommonFolded is IsCommonPassword for a string already folded with
// foldPassword.
func isCommonFolded(folded string) bool {
	_, ok := commonPasswords()[folded]
	return ok
}

// CommonPasswordCount returns how many distinct common passwords are at
// least minLength code points long, that is how many of them a policy with
// that minimum length still has to refuse through the blocklist.
func CommonPasswordCount(minLength int) int {
	n := 0
	for p := range commonPasswords() {
		if utf8.RuneCountInString(p) >= minLength {
			n++
		}
	}
	return n
}
