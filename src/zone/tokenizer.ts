/**
 * Lexer for RFC 1035 §5.1 master files. One pass over the text with charCodeAt, cutting it
 * into entries: one entry per record or directive, where parentheses join lines and `;`
 * starts a comment. Token text keeps its backslash escapes (names and character-strings
 * decode them differently); quoted tokens lose their quotes and are flagged.
 */

export interface Token {
  text: string;
  quoted: boolean;
}

export interface Entry {
  /** Line (1-based) the entry starts on. */
  line: number;
  /** The entry began with blank space: the owner is the previous record's (RFC 1035 §5.1). */
  blankOwner: boolean;
  tokens: Token[];
  /** A lexical problem (quote or parenthesis); the entry must not be used. */
  error?: string;
}

const TAB = 0x09,
  LF = 0x0a,
  CR = 0x0d,
  SPACE = 0x20,
  QUOTE = 0x22,
  LPAREN = 0x28,
  RPAREN = 0x29;
const SEMI = 0x3b,
  BACKSLASH = 0x5c,
  EQUALS = 0x3d;

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === CR;
}

/** Ends an unquoted token. */
function isDelimiter(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF || c === SEMI || c === LPAREN || c === RPAREN || c === QUOTE;
}

export class Tokenizer {
  readonly #text: string;
  #pos = 0;
  /** Line of #pos, 1-based. */
  #line = 1;

  constructor(text: string) {
    // a UTF-8 byte order mark is not part of the first owner name
    this.#text = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  /** The next entry, or null at the end of the text. Blank and comment-only lines are skipped. */
  next(): Entry | null {
    while (this.#pos < this.#text.length) {
      const entry = this.#entry();
      if (entry.tokens.length > 0 || entry.error !== undefined) return entry;
    }
    return null;
  }

  /** Reads from the start of a line to the newline that ends the entry (outside parentheses). */
  #entry(): Entry {
    const text = this.#text;
    const entry: Entry = { line: this.#line, blankOwner: isBlank(text.charCodeAt(this.#pos)), tokens: [] };
    let depth = 0;
    let openedOn = 0;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (isBlank(c)) {
        this.#pos++;
      } else if (c === LF) {
        this.#pos++;
        this.#line++;
        if (depth === 0) return entry;
      } else if (c === SEMI) {
        this.#skipComment();
      } else if (c === LPAREN) {
        if (depth++ === 0) openedOn = this.#line;
        this.#pos++;
      } else if (c === RPAREN) {
        if (depth === 0) entry.error ??= '")" without a matching "("';
        else depth--;
        this.#pos++;
      } else if (c === QUOTE) {
        if (!this.#quoted(entry)) return this.#abandon(entry);
      } else if (!this.#word(entry)) {
        return this.#abandon(entry);
      }
    }
    if (depth > 0) entry.error ??= `unbalanced parentheses: "(" opened on line ${openedOn} is never closed`;
    return entry;
  }

  #skipComment(): void {
    const nl = this.#text.indexOf('\n', this.#pos);
    this.#pos = nl < 0 ? this.#text.length : nl;
  }

  /** After an unterminated quote: drop the rest of the line and resume on the next one. */
  #abandon(entry: Entry): Entry {
    this.#skipComment();
    if (this.#pos < this.#text.length) {
      this.#pos++;
      this.#line++;
    }
    return entry;
  }

  /** Scans to the closing quote from just after an opening one; false if the line ends first. */
  #scanQuoted(entry: Entry): boolean {
    const text = this.#text;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (c === QUOTE) return true;
      if (c === LF) break;
      if (c === BACKSLASH) {
        if (text.charCodeAt(this.#pos + 1) === LF) break;
        this.#pos++;
      }
      this.#pos++;
    }
    entry.error ??= `unterminated quoted string starting on line ${this.#line}`;
    return false;
  }

  /** A `"..."` token; its text is what lies between the quotes, escapes kept. */
  #quoted(entry: Entry): boolean {
    const start = ++this.#pos;
    if (!this.#scanQuoted(entry)) return false;
    entry.tokens.push({ text: this.#text.slice(start, this.#pos), quoted: true });
    this.#pos++;
    return true;
  }

  /**
   * An unquoted token. `\X` escapes the next character, delimiters included. A quote right
   * after `=` opens a quoted part inside the token (SVCB `alpn="h2,h3"`, RFC 9460 Appendix A),
   * kept with its quotes; any other quote ends the token.
   */
  #word(entry: Entry): boolean {
    const text = this.#text;
    const start = this.#pos;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (c === BACKSLASH) {
        const next = text.charCodeAt(this.#pos + 1);
        if (next === LF || Number.isNaN(next)) break;
        this.#pos += 2;
      } else if (c === QUOTE && this.#pos > start && text.charCodeAt(this.#pos - 1) === EQUALS) {
        this.#pos++;
        if (!this.#scanQuoted(entry)) return false;
        this.#pos++;
      } else if (isDelimiter(c)) {
        break;
      } else {
        this.#pos++;
      }
    }
    if (this.#pos === start) {
      // a lone backslash before a newline or the end: keep it so the parser reports it
      this.#pos++;
    }
    entry.tokens.push({ text: text.slice(start, this.#pos), quoted: false });
    return true;
  }
}

/** Tokens of a one-entry text (a record's RDATA); newlines count as blank space. */
export function tokenizeText(text: string): { tokens: Token[]; error?: string } {
  const lexer = new Tokenizer(text);
  const tokens: Token[] = [];
  for (let e = lexer.next(); e !== null; e = lexer.next()) {
    if (e.error !== undefined) return { tokens, error: e.error };
    for (const t of e.tokens) tokens.push(t);
  }
  return { tokens };
}
