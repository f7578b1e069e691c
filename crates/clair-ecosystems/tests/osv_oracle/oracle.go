// OSV IsVulnerable over golang.org/x/mod/semver (see README.md for the protocol). OSV
// writes Go versions without the "v" that x/mod wants; a version x/mod does not call valid
// is undecided (x/mod itself would order it below every valid one).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

type event struct{ kind, version string }

type rng struct {
	kind   string
	events []event
}

type affected struct {
	pkg      string
	ranges   []*rng
	versions []string
}

var errUndecided = errors.New("undecided")

func valid(v string) bool { return semver.IsValid("v" + v) }

func cmp(a, b string) int {
	if !valid(a) || !valid(b) {
		panic(errUndecided)
	}
	return semver.Compare("v"+a, "v"+b)
}

func origin(e event) bool { return e.kind == "introduced" && e.version == "0" }

func included(v string, events []event) (res bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if r != errUndecided {
				panic(r)
			}
			err = errUndecided
		}
	}()
	var limits, rest []event
	for _, e := range events {
		if e.kind == "limit" {
			limits = append(limits, e)
		} else {
			rest = append(rest, e)
		}
	}
	if len(limits) > 0 {
		below := false
		for _, l := range limits {
			if strings.Contains(l.version, "*") || cmp(v, l.version) < 0 {
				below = true
				break
			}
		}
		if !below {
			return false, nil
		}
	}
	for _, e := range rest {
		if !origin(e) && !valid(e.version) {
			return false, errUndecided
		}
	}
	sort.SliceStable(rest, func(i, j int) bool {
		a, b := rest[i], rest[j]
		if origin(a) || origin(b) {
			return origin(a) && !origin(b)
		}
		return cmp(a.version, b.version) < 0
	})
	vulnerable := false
	for _, e := range rest {
		switch e.kind {
		case "introduced":
			if origin(e) || cmp(v, e.version) >= 0 {
				vulnerable = true
			}
		case "fixed":
			if cmp(v, e.version) >= 0 {
				vulnerable = false
			}
		case "last_affected":
			if cmp(v, e.version) > 0 {
				vulnerable = false
			}
		}
	}
	return vulnerable, nil
}

func answer(record []*affected, name, v string) string {
	undecided := false
	for _, a := range record {
		if a.pkg != name {
			continue
		}
		for _, x := range a.versions {
			if v == x || (valid(v) && valid(x) && semver.Compare("v"+v, "v"+x) == 0) {
				return "1"
			}
		}
		for _, r := range a.ranges {
			if r.kind != "ECOSYSTEM" && r.kind != "SEMVER" {
				continue
			}
			ok, err := included(v, r.events)
			if err != nil {
				undecided = true
			} else if ok {
				return "1"
			}
		}
	}
	if undecided {
		return "u"
	}
	return "0"
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var record []*affected
	for in.Scan() {
		line := in.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		switch f[0] {
		case "C":
			record = nil
		case "A":
			record = append(record, &affected{pkg: f[1]})
		case "T":
			a := record[len(record)-1]
			a.ranges = append(a.ranges, &rng{kind: f[1]})
		case "E":
			a := record[len(record)-1]
			r := a.ranges[len(a.ranges)-1]
			r.events = append(r.events, event{f[1], f[2]})
		case "V":
			a := record[len(record)-1]
			a.versions = append(a.versions, f[1])
		case "Q":
			fmt.Fprintln(out, answer(record, f[1], f[2]))
		}
	}
}
