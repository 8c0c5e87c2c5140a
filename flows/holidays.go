package flows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Days off: Japan's national holidays (国民の祝日, with 振替休日 and 国民の
// 休日) as the law has them since 2022, and the organisation's own closed
// days (年末年始). Check-ins, care reminders and the daily passes wait
// for a working day.

// japanHoliday reports whether y-m-d is a national holiday in Japan.
func japanHoliday(y int, m time.Month, d int) bool {
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if nationalDay(day) {
		return true
	}
	// 振替休日: a holiday on a Sunday moves to the next day that is not
	// one itself.
	for p := day.AddDate(0, 0, -1); nationalDay(p); p = p.AddDate(0, 0, -1) {
		if p.Weekday() == time.Sunday {
			return true
		}
	}
	// 国民の休日: a day between two holidays.
	return day.Weekday() != time.Sunday && nationalDay(day.AddDate(0, 0, -1)) && nationalDay(day.AddDate(0, 0, 1))
}

// nationalDay reports whether day (at UTC midnight) is a 国民の祝日 itself.
func nationalDay(day time.Time) bool {
	y, m, d := day.Date()
	nth := (d-1)/7 + 1 // day is the nth of its weekday in the month
	monday := day.Weekday() == time.Monday
	// The equinoxes, by the formula good from 1980 to 2099.
	shift := 0.242194*float64(y-1980) - float64((y-1980)/4)
	switch {
	case m == time.January && (d == 1 || monday && nth == 2), // 元日, 成人の日
		m == time.February && (d == 11 || d == 23),                             // 建国記念の日, 天皇誕生日
		m == time.March && d == int(20.8431+shift),                             // 春分の日
		m == time.April && d == 29,                                             // 昭和の日
		m == time.May && d >= 3 && d <= 5,                                      // 憲法記念日, みどりの日, こどもの日
		m == time.July && monday && nth == 3,                                   // 海の日
		m == time.August && d == 11,                                            // 山の日
		m == time.September && (monday && nth == 3 || d == int(23.2488+shift)), // 敬老の日, 秋分の日
		m == time.October && monday && nth == 2,                                // スポーツの日
		m == time.November && (d == 3 || d == 23):                              // 文化の日, 勤労感謝の日
		return true
	}
	return false
}

// ParseClosedDays reads the organisation's closed days: "MM-DD" every
// year ("12-31") or "YYYY-MM-DD" once.
func ParseClosedDays(days []string) ([]string, error) {
	out := make([]string, 0, len(days))
	for _, s := range days {
		s = strings.TrimSpace(s)
		layout := "01-02"
		if strings.Count(s, "-") == 2 {
			layout = "2006-01-02"
		}
		if _, err := time.Parse(layout, s); err != nil || len(s) != len(layout) {
			return nil, fmt.Errorf("%q is not a day: write MM-DD (every year, such as 12-31) or YYYY-MM-DD", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// dayOff reports whether t's day (in t's location) is no working day:
// a weekend, a national holiday (unless NoHolidays) or a closed day.
func (c Care) dayOff(t time.Time) bool {
	if t.Weekday() == time.Saturday || t.Weekday() == time.Sunday {
		return true
	}
	y, m, d := t.Date()
	if !c.NoHolidays && japanHoliday(y, m, d) {
		return true
	}
	md := fmt.Sprintf("%02d-%02d", int(m), d)
	for _, s := range c.Closed {
		if s == md || s == strconv.Itoa(y)+"-"+md {
			return true
		}
	}
	return false
}
