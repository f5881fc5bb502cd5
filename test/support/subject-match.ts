// Whether a NATS subject filter matches a subject, as the server decides it: `*` stands for one
// token, `>` for one or more at the end. Specs use it to check filters, permissions and imports
// against the subjects nats/subjects.ts builds, without a server.

/** True when `filter` (which may hold `*` and a final `>`) matches the literal `subject`. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const t = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return t.length > i;
    if (i >= t.length || (f[i] !== "*" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
