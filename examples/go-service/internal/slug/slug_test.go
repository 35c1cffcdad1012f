package slug

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMake(t *testing.T) {
	cases := []struct{ text, want string }{
		{"Hello, World!", "hello-world"},
		{"  leading and trailing  ", "leading-and-trailing"},
		{"Portable Pipelines: one CI/CD for every service", "portable-pipelines-one-ci-cd-for-every-service"},
		{"v1.2.3 release", "v1-2-3-release"},
		{"Crème brûlée", "crème-brûlée"},
		{"Straße 42", "straße-42"},
		{"日本語 のテキスト", "日本語-のテキスト"},
		{"tabs\tand\nnewlines", "tabs-and-newlines"},
		{"already-a-slug", "already-a-slug"},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			got, err := Make(c.text)
			if err != nil {
				t.Fatalf("Make(%q): %v", c.text, err)
			}
			if got != c.want {
				t.Errorf("Make(%q) = %q, want %q", c.text, got, c.want)
			}
		})
	}
}

func TestLongSlugsAreCutAtAWord(t *testing.T) {
	text := strings.Repeat("word ", 30)

	got, err := Make(text)

	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(got); n > MaxSlugLength {
		t.Errorf("slug has %d characters, over %d: %q", n, MaxSlugLength, got)
	}
	if strings.HasSuffix(got, "-") || strings.Contains(got, "wor-") || !strings.HasSuffix(got, "word") {
		t.Errorf("slug is not cut at a word: %q", got)
	}
}

func TestAnOverlongFirstWordIsCutOnACharacter(t *testing.T) {
	got, err := Make(strings.Repeat("é", MaxSlugLength+10))

	if err != nil {
		t.Fatal(err)
	}
	if got != strings.Repeat("é", MaxSlugLength) {
		t.Errorf("got %q", got)
	}
}

func TestRefusedText(t *testing.T) {
	cases := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", ErrNoWords},
		{"punctuation only", " -- !? ", ErrNoWords},
		{"over the limit", strings.Repeat("a", MaxTextLength+1), ErrTooLong},
		{"not UTF-8", "caf\xe9", ErrInvalidUTF8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Make(c.text); !errors.Is(err, c.want) {
				t.Errorf("Make(%q) error = %v, want %v", c.text, err, c.want)
			}
		})
	}
}

func TestTheLongestTextAllowedIsCountedInCharacters(t *testing.T) {
	if _, err := Make(strings.Repeat("é", MaxTextLength)); err != nil {
		t.Errorf("%d two-byte characters refused: %v", MaxTextLength, err)
	}
}
