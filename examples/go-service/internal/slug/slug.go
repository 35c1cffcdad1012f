// Package slug turns a title into the part of a URL that names it.
package slug

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextLength is the longest title accepted, in characters.
const MaxTextLength = 200

// MaxSlugLength is the longest slug made, in characters; longer ones are cut at a word.
const MaxSlugLength = 60

// ErrNoWords means the text has no letter or digit to make a slug of.
var ErrNoWords = errors.New("'text' has no letters or digits to make a slug of")

// ErrTooLong means the text is over MaxTextLength characters.
var ErrTooLong = fmt.Errorf("'text' is longer than %d characters", MaxTextLength)

// ErrInvalidUTF8 means the text is not UTF-8.
var ErrInvalidUTF8 = errors.New("'text' is not valid UTF-8")

// Make returns the slug of text: its letters and digits (of any script) in
// lower case, each run of anything else replaced by one '-'.
func Make(text string) (string, error) {
	if !utf8.ValidString(text) {
		return "", ErrInvalidUTF8
	}
	if utf8.RuneCountInString(text) > MaxTextLength {
		return "", ErrTooLong
	}
	var words []string
	var word strings.Builder
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			word.WriteRune(unicode.ToLower(r))
			continue
		}
		if word.Len() > 0 {
			words = append(words, word.String())
			word.Reset()
		}
	}
	if word.Len() > 0 {
		words = append(words, word.String())
	}
	if len(words) == 0 {
		return "", ErrNoWords
	}
	return join(words), nil
}

// join joins the words with '-', stopping before the word that would make the
// slug longer than MaxSlugLength; a first word that is too long is cut.
func join(words []string) string {
	slug := truncate(words[0], MaxSlugLength)
	for _, word := range words[1:] {
		if utf8.RuneCountInString(slug)+1+utf8.RuneCountInString(word) > MaxSlugLength {
			break
		}
		slug += "-" + word
	}
	return slug
}

func truncate(word string, limit int) string {
	count := 0
	for index := range word {
		if count == limit {
			return word[:index]
		}
		count++
	}
	return word
}
