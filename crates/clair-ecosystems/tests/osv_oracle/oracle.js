// OSV IsVulnerable over node's semver (see README.md for the protocol).
"use strict";
const semver = require("semver");

class Undecided extends Error {}

function parse(v) {
  try {
    return new semver.SemVer(v);
  } catch (e) {
    throw new Undecided(v);
  }
}

function valid(v) {
  try {
    new semver.SemVer(v);
    return true;
  } catch (e) {
    return false;
  }
}

const cmp = (a, b) => semver.compare(parse(a), parse(b));

function included(v, events) {
  const limits = events.filter(([k]) => k === "limit");
  if (limits.length > 0 && !limits.some(([, x]) => x.includes("*") || cmp(v, x) < 0)) {
    return false;
  }
  const rest = events.filter(([k]) => k !== "limit");
  const origin = (e) => e[0] === "introduced" && e[1] === "0";
  for (const e of rest) if (!origin(e)) parse(e[1]);
  // Array.prototype.sort is stable (ES2019).
  const sorted = rest.slice().sort((a, b) => {
    if (origin(a) || origin(b)) return (origin(a) ? 0 : 1) - (origin(b) ? 0 : 1);
    return cmp(a[1], b[1]);
  });
  let vulnerable = false;
  for (const [kind, x] of sorted) {
    if (kind === "introduced") {
      if (x === "0" || cmp(v, x) >= 0) vulnerable = true;
    } else if (kind === "fixed") {
      if (cmp(v, x) >= 0) vulnerable = false;
    } else if (kind === "last_affected") {
      if (cmp(v, x) > 0) vulnerable = false;
    }
  }
  return vulnerable;
}

function answer(record, name, v) {
  let undecided = false;
  for (const { pkg, ranges, versions } of record) {
    if (pkg !== name) continue;
    if (versions.some((x) => v === x || (valid(v) && valid(x) && semver.eq(v, x)))) return "1";
    for (const { kind, events } of ranges) {
      if (kind !== "ECOSYSTEM" && kind !== "SEMVER") continue;
      try {
        if (included(v, events)) return "1";
      } catch (e) {
        if (!(e instanceof Undecided)) throw e;
        undecided = true;
      }
    }
  }
  return undecided ? "u" : "0";
}

const input = require("fs").readFileSync(0, "utf8");
let record = [];
const out = [];
for (const line of input.split("\n")) {
  if (!line) continue;
  const f = line.split("\t");
  if (f[0] === "C") record = [];
  else if (f[0] === "A") record.push({ pkg: f[1], ranges: [], versions: [] });
  else if (f[0] === "T") record[record.length - 1].ranges.push({ kind: f[1], events: [] });
  else if (f[0] === "E") {
    const ranges = record[record.length - 1].ranges;
    ranges[ranges.length - 1].events.push([f[1], f[2]]);
  } else if (f[0] === "V") record[record.length - 1].versions.push(f[1]);
  else if (f[0] === "Q") out.push(answer(record, f[1], f[2]));
}
process.stdout.write(out.join("\n") + "\n");
