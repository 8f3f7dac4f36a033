package pagerduty

import (
	"unicode"
	"unicode/utf8"
)

// splitCamelCase splits s into runs of lower-case letters, upper-case
// letters, digits and other characters, then moves the last letter of an
// upper-case run to a lower-case run that follows it, so that
// "HealthCheckFailed" gives [Health Check Failed] and "PDFLoader" gives
// [PDF Loader]. Other characters form runs of their own: "a b" gives
// [a " " b]. It is the splitCamelcase of Flux's internal/notifier (after
// github.com/fatih/camelcase), whose output PagerDuty summaries carry, so
// it must not be "improved". Invalid UTF-8 is returned whole.
func splitCamelCase(s string) []string {
	if !utf8.ValidString(s) {
		return []string{s}
	}
	var runs [][]rune
	last := 0
	for _, r := range s {
		class := runeClass(r)
		if class == last {
			runs[len(runs)-1] = append(runs[len(runs)-1], r)
		} else {
			runs = append(runs, []rune{r})
		}
		last = class
	}
	for i := 0; i+1 < len(runs); i++ {
		if unicode.IsUpper(runs[i][0]) && unicode.IsLower(runs[i+1][0]) {
			end := len(runs[i]) - 1
			runs[i+1] = append([]rune{runs[i][end]}, runs[i+1]...)
			runs[i] = runs[i][:end]
		}
	}
	words := []string{}
	for _, run := range runs {
		if len(run) > 0 {
			words = append(words, string(run))
		}
	}
	return words
}

func runeClass(r rune) int {
	switch {
	case unicode.IsLower(r):
		return 1
	case unicode.IsUpper(r):
		return 2
	case unicode.IsDigit(r):
		return 3
	default:
		return 4
	}
}
