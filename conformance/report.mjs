// What the conformance scripts share: an expectation that throws when it does not hold, and the one JSON line that
// says where a run failed ({"ok":false,"step":...,"error":...} plus what the script adds about the error), after which
// the script exits non-zero.
export function expect(condition, what) {
  if (!condition) {
    throw new Error(`expected: ${what}`);
  }
}

export function fail(where, error, details = {}) {
  console.log(JSON.stringify({ ok: false, step: where, error: error?.message ?? String(error), ...details }));
  process.exit(1);
}
