// Command gofmtcheck fails when a Go file is not formatted as gofmt formats it.
//
//	go run ./tools/gofmtcheck [DIR ...]   (default: the current directory)
//
// `gofmt -l` lists such files but exits 0, so a lint step running it could
// never fail; this lists them the same way, and exits 1 when it listed any (or
// could not parse a file). Formatting comes from go/format, gofmt's own printer.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(dirs []string, stdout, stderr io.Writer) int {
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	problems := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := entry.Name()
			if entry.IsDir() {
				// The go tool ignores these directories too.
				if path != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".go") {
				return nil
			}
			source, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			formatted, err := format.Source(source)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
				problems++
				return nil
			}
			if !bytes.Equal(source, formatted) {
				fmt.Fprintln(stdout, path)
				problems++
			}
			return nil
		})
		if err != nil {
			fmt.Fprintf(stderr, "gofmtcheck: %v\n", err)
			return 1
		}
	}
	if problems > 0 {
		fmt.Fprintf(stderr, "gofmtcheck: %d file(s) not formatted as gofmt does: run `gofmt -w` on them\n", problems)
		return 1
	}
	return 0
}
