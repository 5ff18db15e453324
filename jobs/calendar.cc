#include "jobs/calendar.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include "jobs/local_time.h"

namespace coffer::jobs {
namespace {

constexpr int64_t kDay = 86400;
// The calendar, weekdays included, repeats every 400 years (146097 days,
// a whole number of weeks): what does not match in 400 years never will.
constexpr int kCycleYears = 400;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Monday first, as systemd prints them.
constexpr std::array<std::string_view, 7> kWeekdayNames = {"Mon", "Tue", "Wed", "Thu",
                                                           "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongWeekdayNames = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};

struct Shorthand {
  std::string_view name;
  std::string_view meaning;
};
// systemd.time(7), "Calendar Events"; Proxmox also accepts "semi-annually".
constexpr std::array<Shorthand, 10> kCalendarShorthands = {{
    {"minutely", "*-*-* *:*:00"},
    {"hourly", "*-*-* *:00:00"},
    {"daily", "*-*-* 00:00:00"},
    {"weekly", "mon *-*-* 00:00:00"},
    {"monthly", "*-*-01 00:00:00"},
    {"yearly", "*-01-01 00:00:00"},
    {"annually", "*-01-01 00:00:00"},
    {"quarterly", "*-01,04,07,10-01 00:00:00"},
    {"semiannually", "*-01,07-01 00:00:00"},
    {"semi-annually", "*-01,07-01 00:00:00"},
}};
// crontab(5).
constexpr std::array<Shorthand, 7> kCronShorthands = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

// One field's values: which numbers it takes and how they are stored.
struct FieldSpec {
  std::string_view name;  // "hour", for messages
  int low;
  int high;
};

constexpr FieldSpec kYearField = {"year", 1970, 2199};
constexpr FieldSpec kMonthField = {"month", 1, 12};
constexpr FieldSpec kDayField = {"day", 1, 31};
constexpr FieldSpec kHourField = {"hour", 0, 23};
constexpr FieldSpec kMinuteField = {"minute", 0, 59};
constexpr FieldSpec kSecondField = {"second", 0, 59};
// Cron's day of the week: 0 and 7 are Sunday.
constexpr FieldSpec kCronWeekdayField = {"day of the week", 0, 7};
constexpr FieldSpec kCronDayField = {"day of the month", 1, 31};

std::string Pad(int value, int width) {
  std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

// One field as systemd prints it: "*", "00/15", or a list of values and
// ranges ("01,03..05"). `step_form` allows "START/STEP", which for days
// counted from the month's end would mean counting downwards.
template <size_t N>
std::string RenderField(const std::bitset<N>& bits, int low, int high, int bit_offset, int width,
                        bool step_form = true) {
  std::vector<int> values;
  for (int v = low; v <= high; ++v) {
    if (bits[v - bit_offset]) values.push_back(v);
  }
  if (static_cast<int>(values.size()) == high - low + 1) return "*";
  if (step_form && values.size() >= 3) {
    const int step = values[1] - values[0];
    bool arithmetic = step >= 2 && values.back() + step > high;
    for (size_t i = 1; arithmetic && i < values.size(); ++i)
      arithmetic = values[i] - values[i - 1] == step;
    if (arithmetic) return Pad(values[0], width) + "/" + std::to_string(step);
  }
  std::string out;
  for (size_t i = 0; i < values.size();) {
    size_t end = i;  // the last of a run of consecutive values
    while (end + 1 < values.size() && values[end + 1] == values[end] + 1) ++end;
    if (!out.empty()) out += ',';
    if (end - i >= 2) {
      out += Pad(values[i], width) + ".." + Pad(values[end], width);
      i = end + 1;
    } else {
      out += Pad(values[i], width);
      ++i;
    }
  }
  return out;
}

std::string RenderWeekdays(const std::bitset<7>& bits) {
  std::string out;
  for (int i = 0; i < 7;) {
    if (!bits[i]) {
      ++i;
      continue;
    }
    int end = i;
    while (end + 1 < 7 && bits[end + 1]) ++end;
    if (!out.empty()) out += ',';
    if (end - i >= 2) {
      out += std::string(kWeekdayNames[i]) + ".." + std::string(kWeekdayNames[end]);
      i = end + 1;
    } else {
      out += kWeekdayNames[i];
      ++i;
    }
  }
  return out;
}

}  // namespace

// Reads one schedule's text; each error names the column it is about.
class ScheduleParser {
 public:
  explicit ScheduleParser(std::string_view text) : text_(text) {}

  Result<Schedule> Parse() {
    std::vector<Word> words = SplitWords();
    if (words.empty()) return Status::InvalidArgument(Quoted() + ": the schedule is empty");
    if (words.size() == 1 && words[0].text.starts_with('@')) return ParseCronShorthand(words[0]);
    if (words.size() == 5) return ParseCron(words);
    if (words.size() > 3) {
      return Error(
          words[3].offset,
          std::to_string(words.size()) +
              " parts are too many for a calendar event ([weekdays] [date] [time]) and not a cron "
              "line's 5 fields");
    }
    if (words.size() == 1) {
      for (const Shorthand& shorthand : kCalendarShorthands) {
        if (EqualsIgnoringCase(words[0].text, shorthand.name))
          return ScheduleParser(shorthand.meaning).Parse();
      }
    }
    return ParseCalendarEvent(words);
  }

 private:
  struct Word {
    std::string_view text;
    size_t offset = 0;  // in text_
  };

  std::string Quoted() const { return "\"" + std::string(text_) + "\""; }

  Status Error(size_t offset, std::string_view what) const {
    return Status::InvalidArgument(Quoted() + ": " + std::string(what) + " at column " +
                                   std::to_string(offset + 1));
  }

  // "unexpected "x"", or the end of the text when offset is past it.
  Status Unexpected(size_t offset, std::string_view expected) const {
    std::string what = offset < text_.size()
                           ? "unexpected \"" + std::string(1, text_[offset]) + "\""
                           : std::string("unexpected end");
    if (!expected.empty()) what += ", expected " + std::string(expected);
    return Error(offset, what);
  }

  std::vector<Word> SplitWords() const {
    std::vector<Word> words;
    size_t i = 0;
    while (i < text_.size()) {
      if (IsSpace(text_[i])) {
        ++i;
        continue;
      }
      const size_t start = i;
      while (i < text_.size() && !IsSpace(text_[i])) ++i;
      words.push_back({text_.substr(start, i - start), start});
    }
    return words;
  }

  // ---- Calendar events ----

  Result<Schedule> ParseCalendarEvent(const std::vector<Word>& words) {
    Schedule s;
    s.years_.set();
    s.months_.set();
    s.days_.set();
    s.weekdays_.set();
    s.hours_.set(0);
    s.minutes_.set(0);
    s.seconds_.set(0);
    size_t next = 0;
    if (IsLetter(words[next].text[0])) {
      COFFER_RETURN_IF_ERROR(ParseWeekdays(words[next], s.weekdays_));
      ++next;
    }
    if (next < words.size() && words[next].text.find_first_of("-~") != std::string_view::npos) {
      COFFER_RETURN_IF_ERROR(ParseDate(words[next], s));
      ++next;
    }
    if (next < words.size() && !IsLetter(words[next].text[0])) {
      if (words[next].text.find(':') != std::string_view::npos) {
        COFFER_RETURN_IF_ERROR(ParseTime(words[next], s));
      } else {  // Proxmox: a bare field is the minutes of every hour
        s.hours_.set();
        s.minutes_.reset();
        COFFER_RETURN_IF_ERROR(
            ParseCalendarField(words[next].text, words[next].offset, kMinuteField, 0, s.minutes_));
      }
      ++next;
    }
    if (next < words.size()) {
      const Word& word = words[next];
      if (IsLetter(word.text[0])) {
        return Error(word.offset, "unexpected \"" + std::string(word.text) +
                                      "\": weekdays come first, and time zones are not supported");
      }
      return Error(word.offset,
                   "unexpected \"" + std::string(word.text) +
                       "\": expected [weekdays] [[years-]months-days] [hours:minutes[:seconds]]");
    }
    s.Normalize();
    return s;
  }

  // "mon..fri", "sat,sun", "Monday-Wednesday,fri".
  Status ParseWeekdays(const Word& word, std::bitset<7>& out) {
    out.reset();
    size_t i = 0;
    const std::string_view text = word.text;
    while (true) {
      int first = 0;
      COFFER_RETURN_IF_ERROR(ParseWeekdayName(word, i, first));
      int last = first;
      if (text.substr(i).starts_with("..") || text.substr(i).starts_with("-")) {
        const size_t range_at = word.offset + i;
        i += text[i] == '-' ? 1 : 2;
        COFFER_RETURN_IF_ERROR(ParseWeekdayName(word, i, last));
        if (last < first) {
          return Error(range_at,
                       "weekday range runs backwards (Monday is the first day; write e.g. "
                       "\"fri..sun,mon\")");
        }
      }
      for (int d = first; d <= last; ++d) out.set(d);
      if (i == text.size()) return Status::Ok();
      if (text[i] != ',')
        return Unexpected(word.offset + i, "\",\", \"..\" or the end of the weekdays");
      ++i;
    }
  }

  Status ParseWeekdayName(const Word& word, size_t& i, int& day) {
    const size_t start = i;
    while (i < word.text.size() && IsLetter(word.text[i])) ++i;
    const std::string_view name = word.text.substr(start, i - start);
    if (name.empty()) return Unexpected(word.offset + start, "a weekday");
    for (int d = 0; d < 7; ++d) {
      if (EqualsIgnoringCase(name, kWeekdayNames[d]) ||
          EqualsIgnoringCase(name, kLongWeekdayNames[d])) {
        day = d;
        return Status::Ok();
      }
    }
    return Error(word.offset + start, "unknown weekday \"" + std::string(name) + "\"");
  }

  // [YEARS-]MONTHS-DAYS, or with "~" before the days: counted from the end.
  Status ParseDate(const Word& word, Schedule& s) {
    std::vector<std::string_view> parts;
    std::vector<size_t> offsets;
    size_t start = 0;
    bool from_end = false;
    for (size_t i = 0; i <= word.text.size(); ++i) {
      if (i < word.text.size() && word.text[i] != '-' && word.text[i] != '~') continue;
      if (from_end && i < word.text.size()) {
        return Error(word.offset + i, "\"~\" must separate the months from the days");
      }
      if (i < word.text.size() && word.text[i] == '~') from_end = true;
      parts.push_back(word.text.substr(start, i - start));
      offsets.push_back(word.offset + start);
      start = i + 1;
    }
    if (parts.size() > 3) {
      return Error(offsets[3] - 1, "a date has at most three parts (years-months-days)");
    }
    if (parts.size() < 2) return Error(word.offset, "a date needs months and days");
    size_t next = 0;
    if (parts.size() == 3) {
      s.years_.reset();
      COFFER_RETURN_IF_ERROR(
          ParseCalendarField(parts[0], offsets[0], kYearField, kYearField.low, s.years_));
      next = 1;
    }
    s.months_.reset();
    COFFER_RETURN_IF_ERROR(
        ParseCalendarField(parts[next], offsets[next], kMonthField, 0, s.months_));
    s.days_.reset();
    s.days_from_end_ = from_end;
    return ParseCalendarField(parts[next + 1], offsets[next + 1], kDayField, 0, s.days_, from_end);
  }

  // HOURS:MINUTES[:SECONDS]
  Status ParseTime(const Word& word, Schedule& s) {
    std::vector<std::string_view> parts;
    std::vector<size_t> offsets;
    size_t start = 0;
    for (size_t i = 0; i <= word.text.size(); ++i) {
      if (i < word.text.size() && word.text[i] != ':') continue;
      parts.push_back(word.text.substr(start, i - start));
      offsets.push_back(word.offset + start);
      start = i + 1;
    }
    if (parts.size() > 3)
      return Error(offsets[3] - 1, "a time has at most three parts (hours:minutes:seconds)");
    s.hours_.reset();
    s.minutes_.reset();
    COFFER_RETURN_IF_ERROR(ParseCalendarField(parts[0], offsets[0], kHourField, 0, s.hours_));
    COFFER_RETURN_IF_ERROR(ParseCalendarField(parts[1], offsets[1], kMinuteField, 0, s.minutes_));
    if (parts.size() == 3) {
      s.seconds_.reset();
      COFFER_RETURN_IF_ERROR(ParseCalendarField(parts[2], offsets[2], kSecondField, 0, s.seconds_));
    }
    return Status::Ok();
  }

  // A number of at most 4 digits at text[i]; `offset` is text's in text_.
  Status ParseNumber(std::string_view text, size_t offset, size_t& i, int& value,
                     std::string_view expected) {
    const size_t start = i;
    value = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (i - start == 4) return Error(offset + start, "number too long");
      value = value * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start) return Unexpected(offset + i, expected);
    return Status::Ok();
  }

  Status CheckRange(const FieldSpec& field, int value, size_t at) {
    if (value >= field.low && value <= field.high) return Status::Ok();
    return Error(at, std::string(field.name) + " " + std::to_string(value) + " is out of range " +
                         std::to_string(field.low) + ".." + std::to_string(field.high));
  }

  // A comma list of "*", "N", "A..B", each optionally "/STEP". With
  // `from_end` (days after "~"), "A/STEP" counts down towards the month's
  // end, as systemd does: "~07/2" is the 7th, 5th, 3rd and last day.
  template <size_t N>
  Status ParseCalendarField(std::string_view text, size_t offset, const FieldSpec& field,
                            int bit_offset, std::bitset<N>& out, bool from_end = false) {
    size_t i = 0;
    while (true) {
      const size_t item_at = offset + i;
      int first = field.low;
      int last = field.high;
      bool star = false;
      bool range = false;
      if (i < text.size() && text[i] == '*') {
        star = true;
        ++i;
      } else {
        COFFER_RETURN_IF_ERROR(ParseNumber(text, offset, i, first,
                                           "a number or \"*\" for the " + std::string(field.name)));
        COFFER_RETURN_IF_ERROR(CheckRange(field, first, item_at));
        last = first;
        if (text.substr(i).starts_with("..")) {
          range = true;
          i += 2;
          const size_t last_at = offset + i;
          COFFER_RETURN_IF_ERROR(ParseNumber(text, offset, i, last, "a number after \"..\""));
          COFFER_RETURN_IF_ERROR(CheckRange(field, last, last_at));
          if (last < first) {
            return Error(item_at, std::string(field.name) + " range " + std::to_string(first) +
                                      ".." + std::to_string(last) + " runs backwards");
          }
        }
      }
      int step = 1;
      bool downwards = false;
      if (i < text.size() && text[i] == '/') {
        ++i;
        const size_t step_at = offset + i;
        COFFER_RETURN_IF_ERROR(ParseNumber(text, offset, i, step, "a repetition step after \"/\""));
        if (step == 0) return Error(step_at, "repetition step 0");
        // "A/STEP" repeats to the field's end; "A..B/STEP" to B.
        if (!star && !range) {
          last = field.high;
          downwards = from_end;
        }
      }
      if (downwards) {
        for (int v = first; v >= field.low; v -= step) out.set(v - bit_offset);
      } else {
        for (int v = first; v <= last; v += step) out.set(v - bit_offset);
      }
      if (i == text.size()) return Status::Ok();
      if (text[i] != ',') {
        if (text[i] == '.' && field.name == kSecondField.name) {
          return Error(offset + i, "fractional seconds are not supported");
        }
        return Unexpected(offset + i,
                          "\",\", \"..\", \"/\" or the end of the " + std::string(field.name));
      }
      ++i;
    }
  }

  // ---- Cron lines ----

  Result<Schedule> ParseCronShorthand(const Word& word) {
    for (const Shorthand& shorthand : kCronShorthands) {
      if (EqualsIgnoringCase(word.text, shorthand.name))
        return ScheduleParser(shorthand.meaning).Parse();
    }
    return Error(word.offset, "unknown cron shorthand \"" + std::string(word.text) + "\"");
  }

  Result<Schedule> ParseCron(const std::vector<Word>& words) {
    Schedule s;
    s.seconds_.set(0);
    s.years_.set();
    COFFER_RETURN_IF_ERROR(ParseCronField(words[0], kMinuteField, s.minutes_));
    COFFER_RETURN_IF_ERROR(ParseCronField(words[1], kHourField, s.hours_));
    COFFER_RETURN_IF_ERROR(ParseCronField(words[2], kCronDayField, s.days_));
    COFFER_RETURN_IF_ERROR(ParseCronField(words[3], kMonthField, s.months_));
    std::bitset<8> sunday_first;  // bit 0 and 7: Sunday
    COFFER_RETURN_IF_ERROR(ParseCronField(words[4], kCronWeekdayField, sunday_first));
    for (int d = 1; d <= 6; ++d) s.weekdays_[d - 1] = sunday_first[d];
    s.weekdays_[6] = sunday_first[0] || sunday_first[7];
    // Vixie cron's rule: a day field counts as restricted unless it starts with "*".
    s.either_day_ = !words[2].text.starts_with('*') && !words[4].text.starts_with('*');
    s.Normalize();
    return s;
  }

  // A month or weekday name, or a number.
  Status ParseCronValue(const Word& word, size_t& i, const FieldSpec& field, int& value) {
    if (i < word.text.size() && IsLetter(word.text[i])) {
      const size_t start = i;
      while (i < word.text.size() && IsLetter(word.text[i])) ++i;
      const std::string_view name = word.text.substr(start, i - start);
      if (field.name == kMonthField.name) {
        for (int m = 0; m < 12; ++m) {
          if (EqualsIgnoringCase(name, kMonthNames[m])) {
            value = m + 1;
            return Status::Ok();
          }
        }
        return Error(word.offset + start, "unknown month \"" + std::string(name) + "\"");
      }
      if (field.name == kCronWeekdayField.name) {
        for (int d = 0; d < 7; ++d) {
          if (EqualsIgnoringCase(name, kWeekdayNames[d])) {
            value = (d + 1) % 7;  // cron counts from Sunday = 0
            return Status::Ok();
          }
        }
        return Error(word.offset + start, "unknown weekday \"" + std::string(name) + "\"");
      }
      return Error(word.offset + start, "a name is not a " + std::string(field.name));
    }
    const size_t start = i;
    COFFER_RETURN_IF_ERROR(ParseNumber(word.text, word.offset, i, value,
                                       "a number or \"*\" for the " + std::string(field.name)));
    return CheckRange(field, value, word.offset + start);
  }

  template <size_t N>
  Status ParseCronField(const Word& word, const FieldSpec& field, std::bitset<N>& out) {
    const std::string_view text = word.text;
    size_t i = 0;
    while (true) {
      const size_t item_at = word.offset + i;
      int first = field.low;
      // "*" in the day of the week is 0..6: with a step, 7 would be a second Sunday.
      int last = field.name == kCronWeekdayField.name ? 6 : field.high;
      bool star = false;
      bool range = false;
      if (i < text.size() && text[i] == '*') {
        star = true;
        ++i;
      } else {
        COFFER_RETURN_IF_ERROR(ParseCronValue(word, i, field, first));
        last = first;
        if (i < text.size() && text[i] == '-') {
          range = true;
          ++i;
          COFFER_RETURN_IF_ERROR(ParseCronValue(word, i, field, last));
          // "mon-sun": Sunday ends a week that starts on Monday.
          if (field.name == kCronWeekdayField.name && last == 0 && first > 0) last = 7;
          if (last < first) {
            return Error(item_at, std::string(field.name) + " range " + std::to_string(first) +
                                      "-" + std::to_string(last) + " runs backwards");
          }
        }
      }
      int step = 1;
      if (i < text.size() && text[i] == '/') {
        ++i;
        const size_t step_at = word.offset + i;
        COFFER_RETURN_IF_ERROR(
            ParseNumber(text, word.offset, i, step, "a repetition step after \"/\""));
        if (step == 0) return Error(step_at, "repetition step 0");
        // "5/10" as cronie reads it: 5-MAX/10; for the weekdays up to
        // Saturday, so "0/2" has one Sunday, but "7/1" is still Sunday.
        if (!star && !range)
          last = field.name == kCronWeekdayField.name ? std::max(first, 6) : field.high;
      }
      for (int v = first; v <= last; v += step) out.set(v);
      if (i == text.size()) return Status::Ok();
      if (text[i] != ',') {
        return Unexpected(word.offset + i,
                          "\",\", \"-\", \"/\" or the end of the " + std::string(field.name));
      }
      ++i;
    }
  }

  std::string_view text_;
};

void Schedule::Normalize() {
  bool all_days = true;
  for (int d = 1; d <= 31; ++d) all_days = all_days && days_[d];
  // "Either day" with one field matching every day is every day.
  if (either_day_ && (all_days || weekdays_.all())) {
    either_day_ = false;
    weekdays_.set();
    all_days = true;
  }
  if (all_days) {
    days_.set();
    days_from_end_ = false;
  }
  days_.reset(0);
  months_.reset(0);
}

bool Schedule::YearMatches(int year) const {
  if (years_.all()) return true;
  return year >= kFirstYear && year <= kLastYear && years_[year - kFirstYear];
}

bool Schedule::DayMatches(int year, unsigned month, unsigned day) const {
  using namespace std::chrono;
  const year_month_day date{std::chrono::year(year), std::chrono::month(month),
                            std::chrono::day(day)};
  const unsigned last =
      static_cast<unsigned>(year_month_day_last(date.year(), month_day_last(date.month())).day());
  const bool day_matches = days_[days_from_end_ ? last - day + 1 : day];
  const bool weekday_matches = weekdays_[weekday(sys_days(date)).iso_encoding() - 1];
  return either_day_ ? (day_matches || weekday_matches) : (day_matches && weekday_matches);
}

std::optional<int> Schedule::TimeOfDayFrom(int second_of_day) const {
  const int start_hour = second_of_day / 3600;
  const int start_minute = second_of_day / 60 % 60;
  const int start_second = second_of_day % 60;
  for (int hour = start_hour; hour < 24; ++hour) {
    if (!hours_[hour]) continue;
    for (int minute = hour == start_hour ? start_minute : 0; minute < 60; ++minute) {
      if (!minutes_[minute]) continue;
      const bool start = hour == start_hour && minute == start_minute;
      for (int second = start ? start_second : 0; second < 60; ++second) {
        if (seconds_[second]) return hour * 3600 + minute * 60 + second;
      }
    }
  }
  return std::nullopt;
}

std::optional<int64_t> Schedule::NextWallTimeFrom(int64_t wall) const {
  using namespace std::chrono;
  const sys_days start_day = floor<days>(sys_seconds(seconds(wall)));
  int second_of_day = static_cast<int>(wall - start_day.time_since_epoch().count() * kDay);
  const year_month_day start(start_day);
  int year = static_cast<int>(start.year());
  unsigned month = static_cast<unsigned>(start.month());
  unsigned day = static_cast<unsigned>(start.day());

  int last_year = year + kCycleYears;
  if (!years_.all()) {
    int last_listed = kFirstYear - 1;
    for (int y = kLastYear; y >= kFirstYear && last_listed < kFirstYear; --y) {
      if (years_[y - kFirstYear]) last_listed = y;
    }
    last_year = std::min(last_year, last_listed);
  }
  // Step field by field: a year, a month, a day, then the time within it.
  auto next_month = [&] {
    if (++month > 12) {
      month = 1;
      ++year;
    }
    day = 1;
    second_of_day = 0;
  };
  while (year <= last_year) {
    if (!YearMatches(year)) {
      ++year;
      month = day = 1;
      second_of_day = 0;
      continue;
    }
    if (!months_[month]) {
      next_month();
      continue;
    }
    const unsigned days_in_month = static_cast<unsigned>(
        year_month_day_last(std::chrono::year(year), month_day_last(std::chrono::month(month)))
            .day());
    if (day > days_in_month) {
      next_month();
      continue;
    }
    if (!either_day_ && !days_from_end_ && !days_[day]) {  // cheap: no weekday to compute
      ++day;
      second_of_day = 0;
      continue;
    }
    if (DayMatches(year, month, day)) {
      if (std::optional<int> time = TimeOfDayFrom(second_of_day)) {
        const sys_days date = year_month_day(std::chrono::year(year), std::chrono::month(month),
                                             std::chrono::day(day));
        return date.time_since_epoch().count() * kDay + *time;
      }
    }
    ++day;
    second_of_day = 0;
  }
  return std::nullopt;
}

std::optional<TimePoint> Schedule::NextAfter(TimePoint after) const {
  std::optional<int64_t> wall = NextWallTimeFrom(FirstWallTimeAfter(after));
  if (!wall) return std::nullopt;
  return InstantOfWallTime(*wall);
}

std::vector<std::string> Schedule::ToOnCalendar() const {
  // Years and months as lists: "*-01,04,07,10-01" reads better than "*-01/3-01".
  std::string date =
      RenderField(years_, kFirstYear, kLastYear, kFirstYear, 4, /*step_form=*/false) + "-" +
      RenderField(months_, 1, 12, 0, 2, /*step_form=*/false);
  const std::string time = RenderField(hours_, 0, 23, 0, 2) + ":" +
                           RenderField(minutes_, 0, 59, 0, 2) + ":" +
                           RenderField(seconds_, 0, 59, 0, 2);
  const std::string days = days_from_end_
                               ? "~" + RenderField(days_, 1, 31, 0, 2, /*step_form=*/false)
                               : "-" + RenderField(days_, 1, 31, 0, 2);
  const std::string weekdays = weekdays_.all() ? "" : RenderWeekdays(weekdays_) + " ";
  if (either_day_) return {date + days + " " + time, weekdays + date + "-* " + time};
  return {weekdays + date + days + " " + time};
}

Result<Schedule> ParseSchedule(std::string_view text) {
  return ScheduleParser(text).Parse();
}

std::optional<TimePoint> MissedRun(const Schedule& schedule, TimePoint last_run, TimePoint now) {
  std::optional<TimePoint> first = schedule.NextAfter(last_run);
  if (!first || *first > now) return std::nullopt;
  // NextAfter never decreases as its argument grows: search for the last
  // instant whose next run is still due; that run is the latest one due.
  TimePoint due = last_run;  // NextAfter(due) <= now
  TimePoint not_due = now;   // NextAfter(not_due) > now
  while (not_due - due > std::chrono::seconds(1)) {
    const TimePoint middle = due + (not_due - due) / 2;
    std::optional<TimePoint> next = schedule.NextAfter(middle);
    (next && *next <= now ? due : not_due) = middle;
  }
  return schedule.NextAfter(due);
}

}  // namespace coffer::jobs
