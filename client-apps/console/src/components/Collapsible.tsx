// Long text (tool results, arguments) shows its first lines; the rest opens on demand.
// <details> is keyboard usable as it is (Enter/Space on its summary).
const LIMIT_CHARS = 600;
const LIMIT_LINES = 8;

export function Collapsible({ text, label }: { text: string; label: string }) {
  const lines = text.split("\n");
  if (text.length <= LIMIT_CHARS && lines.length <= LIMIT_LINES) {
    return <pre className="output">{text}</pre>;
  }
  const head = lines.slice(0, LIMIT_LINES).join("\n").slice(0, LIMIT_CHARS);
  return (
    <details className="collapsible">
      <summary>
        <pre className="output preview">{head}</pre>
        <span className="more">
          {label}: {text.length.toLocaleString()} characters, {lines.length} lines. Show all
        </span>
      </summary>
      <pre className="output">{text}</pre>
    </details>
  );
}
