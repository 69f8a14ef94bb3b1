//! The overview's chart (SPEC §12): registrations and refusals per day over 30 days, as an SVG
//! drawn on the server — no script, no remote asset; colours come from the stylesheet's classes.

use crate::operator::Day;

const WIDTH: i64 = 600;
const HEIGHT: i64 = 160;
const TOP: i64 = 10;
const BOTTOM: i64 = 20;

/// Two bars a day (registrations, refusals), scaled to the busiest day; each bar carries its
/// day and count as a `<title>`, the whole chart a text summary for screen readers.
pub fn chart_svg(days: &[Day]) -> String {
    let max = days.iter().map(|d| d.registrations.max(d.refusals)).max().unwrap_or(0).max(1) as i64;
    let plot = HEIGHT - TOP - BOTTOM;
    let slot = WIDTH / days.len().max(1) as i64;
    let bar = (slot / 2 - 1).max(1);
    let (registered, refused): (u32, u32) = days.iter().fold((0, 0), |(a, b), d| (a + d.registrations, b + d.refusals));
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"chart-title\">\n\
         <title id=\"chart-title\">Registrations and refusals per day over {n} days: {registered} registrations, \
         {refused} refusals</title>\n<line class=\"axis\" x1=\"0\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\"/>\n",
        n = days.len(),
        base = HEIGHT - BOTTOM,
    );
    for (i, day) in days.iter().enumerate() {
        let x = i as i64 * slot;
        let date = date_of(day.start);
        for (offset, count, class, what) in [
            (0, day.registrations, "bar-registered", "registrations"),
            (bar + 1, day.refusals, "bar-refused", "refusals"),
        ] {
            let height = count as i64 * plot / max;
            if height == 0 {
                continue;
            }
            svg.push_str(&format!(
                "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{bar}\" height=\"{height}\"><title>{date}: {count} {what}</title></rect>\n",
                x + offset,
                HEIGHT - BOTTOM - height,
            ));
        }
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        svg.push_str(&format!(
            "<text x=\"0\" y=\"{y}\">{}</text>\n<text x=\"{WIDTH}\" y=\"{y}\" text-anchor=\"end\">{}</text>\n",
            date_of(first.start),
            date_of(last.start),
            y = HEIGHT - 5,
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// `YYYY-MM-DD` of a UTC day's start.
fn date_of(start: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(start)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64, registrations: u32, refusals: u32) -> Day {
        Day { start: 1_764_633_600 + n * 86_400, registrations, refusals }
    }

    #[test]
    fn bars_scale_to_the_busiest_day() {
        let days = vec![day(0, 4, 0), day(1, 2, 1), day(2, 0, 0)];
        let svg = chart_svg(&days);
        // 4 is the maximum: its bar fills the plot (160 - 10 - 20 = 130), 2 fills half.
        assert!(svg.contains("height=\"130\"><title>2025-12-02: 4 registrations</title>"), "{svg}");
        assert!(svg.contains("height=\"65\"><title>2025-12-03: 2 registrations</title>"), "{svg}");
        assert!(svg.contains("<title>2025-12-03: 1 refusals</title>"), "{svg}");
        // Empty days draw no bar; the summary counts everything.
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("6 registrations, 1 refusals"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn an_empty_month_draws_no_bar_and_no_division_by_zero() {
        let days: Vec<Day> = (0..30).map(|n| day(n, 0, 0)).collect();
        let svg = chart_svg(&days);
        assert_eq!(svg.matches("<rect").count(), 0);
        assert!(svg.contains("0 registrations, 0 refusals"));
        assert_eq!(chart_svg(&[]).matches("<rect").count(), 0);
    }
}
