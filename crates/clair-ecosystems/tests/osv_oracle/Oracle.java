// OSV IsVulnerable over Maven's ComparableVersion (see README.md for the protocol). Maven
// reads every string as a version, so nothing is undecided.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class Oracle {
    record Event(String kind, String version) {}

    record Range(String kind, List<Event> events) {}

    record Affected(String pkg, List<Range> ranges, List<String> versions) {}

    static int cmp(String a, String b) {
        return new ComparableVersion(a).compareTo(new ComparableVersion(b));
    }

    static boolean origin(Event e) {
        return e.kind().equals("introduced") && e.version().equals("0");
    }

    static boolean included(String v, List<Event> events) {
        List<Event> limits = events.stream().filter(e -> e.kind().equals("limit")).toList();
        if (!limits.isEmpty()
                && limits.stream().noneMatch(e -> e.version().contains("*") || cmp(v, e.version()) < 0)) {
            return false;
        }
        List<Event> rest =
                new ArrayList<>(events.stream().filter(e -> !e.kind().equals("limit")).toList());
        // List.sort is stable (TimSort).
        rest.sort((a, b) -> {
            if (origin(a) || origin(b)) return (origin(a) ? 0 : 1) - (origin(b) ? 0 : 1);
            return cmp(a.version(), b.version());
        });
        boolean vulnerable = false;
        for (Event e : rest) {
            switch (e.kind()) {
                case "introduced" -> {
                    if (origin(e) || cmp(v, e.version()) >= 0) vulnerable = true;
                }
                case "fixed" -> {
                    if (cmp(v, e.version()) >= 0) vulnerable = false;
                }
                case "last_affected" -> {
                    if (cmp(v, e.version()) > 0) vulnerable = false;
                }
                default -> {}
            }
        }
        return vulnerable;
    }

    static String answer(List<Affected> record, String name, String v) {
        for (Affected a : record) {
            if (!a.pkg().equals(name)) continue;
            for (String x : a.versions()) {
                if (v.equals(x) || cmp(v, x) == 0) return "1";
            }
            for (Range r : a.ranges()) {
                if (!r.kind().equals("ECOSYSTEM") && !r.kind().equals("SEMVER")) continue;
                if (included(v, r.events())) return "1";
            }
        }
        return "0";
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<Affected> record = new ArrayList<>();
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            switch (f[0]) {
                case "C" -> record = new ArrayList<>();
                case "A" -> record.add(new Affected(f[1], new ArrayList<>(), new ArrayList<>()));
                case "T" -> record.get(record.size() - 1).ranges().add(new Range(f[1], new ArrayList<>()));
                case "E" -> {
                    List<Range> ranges = record.get(record.size() - 1).ranges();
                    ranges.get(ranges.size() - 1).events().add(new Event(f[1], f[2]));
                }
                case "V" -> record.get(record.size() - 1).versions().add(f[1]);
                case "Q" -> out.append(answer(record, f[1], f[2])).append('\n');
                default -> {}
            }
        }
        System.out.print(out);
    }
}
