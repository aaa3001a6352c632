/** Values a tenant may send, for renderer tests: each format must escape them exactly or refuse them. */
export const HOSTILE: Record<string, string> = {
  newline: 'x\nExecStartPre=+/bin/sh -c id\nUser=root',
  crlf: 'a\r\nb',
  semicolon: 'a; b ;',
  braces: '} server { listen 1; } {',
  dollar: '$HOME ${PATH} $$ $',
  percent: '%n %% %i %',
  quotes: `"double" 'single' \`back\``,
  backslashes: 'a\\nb \\ \\\\ \\x41 \\',
  hash: '# not a comment',
  controls: 'tab\there \x01\x1b\x7f',
  unicode: 'é ☃ 😀',
  empty: '',
  spaces: '  padded  ',
  big: 'A'.repeat(100 * 1024),
  bigHostile: '\n;{}$%"\\'.repeat(100 * 1024 / 8),
};

/** Never representable: a NUL. */
export const NUL = 'a\0b';
