// Local hours of the daylight-saving days of 2026 in Bucharest, as the server writes them.

/** The local hours of 29 March 2026 in Bucharest: 03:00 never happened (23 hours). */
export const SPRING_BUCHAREST = [
  ...[0, 1, 2].map((h) => `2026-03-29T0${h}:00:00+02:00`),
  ...Array.from({ length: 20 }, (_, i) => `2026-03-29T${String(i + 4).padStart(2, '0')}:00:00+03:00`),
]
/** 25 October 2026 in Bucharest: 03:00 came twice (25 hours). */
export const AUTUMN_BUCHAREST = [
  ...[0, 1, 2, 3].map((h) => `2026-10-25T0${h}:00:00+03:00`),
  ...Array.from({ length: 21 }, (_, i) => `2026-10-25T${String(i + 3).padStart(2, '0')}:00:00+02:00`),
]
