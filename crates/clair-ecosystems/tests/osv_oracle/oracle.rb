# OSV IsVulnerable over RubyGems' Gem::Version (see README.md for the protocol).

class Undecided < StandardError; end

def parse(v)
  raise Undecided, v unless Gem::Version.correct?(v)
  Gem::Version.new(v)
end

def valid(v)
  Gem::Version.correct?(v) ? true : false
end

def included(v, events)
  limits = events.select { |k, _| k == "limit" }
  if !limits.empty? && !limits.any? { |_, x| x.include?("*") || parse(v) < parse(x) }
    return false
  end
  rest = events.reject { |k, _| k == "limit" }
  origin = ->(e) { e[0] == "introduced" && e[1] == "0" }
  keys = rest.map { |e| origin.(e) ? nil : parse(e[1]) }
  # sort_by is not stable: the position breaks ties.
  order = (0...rest.length).sort do |i, j|
    a, b = keys[i], keys[j]
    c = if a.nil? && b.nil? then 0
        elsif a.nil? then -1
        elsif b.nil? then 1
        else a <=> b
        end
    c.zero? ? i <=> j : c
  end
  vulnerable = false
  order.each do |i|
    kind, x = rest[i]
    case kind
    when "introduced"
      vulnerable = true if x == "0" || parse(v) >= parse(x)
    when "fixed"
      vulnerable = false if parse(v) >= parse(x)
    when "last_affected"
      vulnerable = false if parse(v) > parse(x)
    end
  end
  vulnerable
end

def answer(record, name, v)
  undecided = false
  record.each do |a|
    next unless a[:pkg] == name
    return "1" if a[:versions].any? { |x| v == x || (valid(v) && valid(x) && Gem::Version.new(v) == Gem::Version.new(x)) }
    a[:ranges].each do |r|
      next unless %w[ECOSYSTEM SEMVER].include?(r[:kind])
      begin
        return "1" if included(v, r[:events])
      rescue Undecided
        undecided = true
      end
    end
  end
  undecided ? "u" : "0"
end

record = []
out = []
$stdin.read.split("\n").each do |line|
  next if line.empty?
  f = line.split("\t", -1)
  case f[0]
  when "C" then record = []
  when "A" then record << { pkg: f[1], ranges: [], versions: [] }
  when "T" then record[-1][:ranges] << { kind: f[1], events: [] }
  when "E" then record[-1][:ranges][-1][:events] << [f[1], f[2]]
  when "V" then record[-1][:versions] << f[1]
  when "Q" then out << answer(record, f[1], f[2])
  end
end
$stdout.write(out.join("\n") + "\n")
