"""One way to write a date everywhere psops shows one: ISO 8601 (2026-11-30, 2026-11-30 14:05), unambiguous for a
firm that sells across countries (decision 0016). Django's English formats would write "Nov. 30, 2026" where a page
does not say otherwise."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "m-d"
YEAR_MONTH_FORMAT = "Y-m"
