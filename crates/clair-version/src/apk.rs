//! Alpine versions, `digit{.digit}[letter]{_suffix[N]}[~hash][-rN]`, ordered token by token
//! as apk-tools' `version.c` does: `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn <
//! _git < _hg < _p`; a digit group with a leading zero compares as a string.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

// Suffix ranks, as apk-tools numbers them.
const SUFFIX_NONE: u8 = 5;

fn suffix_value(s: &[u8]) -> Option<u8> {
    let v = match s {
        b"alpha" => 1,
        b"beta" => 2,
        b"pre" => 3,
        b"rc" => 4,
        b"cvs" => 6,
        b"svn" => 7,
        b"git" => 8,
        b"hg" => 9,
        b"p" => 10,
        _ => return None,
    };
    Some(v)
}

struct State<'a> {
    rest: &'a [u8],
    token: Token,
    suffix: u8,
    number: u64,
    value: &'a [u8],
}

impl<'a> State<'a> {
    fn first(s: &'a [u8]) -> State<'a> {
        let mut t = State {
            rest: s,
            token: Token::InitialDigit,
            suffix: 0,
            number: 0,
            value: &[],
        };
        t.digits();
        t
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (h, r) = self.rest.split_at(n);
        self.rest = r;
        h
    }

    /// `apk_blob_pull_uint` (wrapping, as the C does) plus the digits as text.
    fn digits(&mut self) {
        let n = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        self.value = self.take(n);
        self.number = self.value.iter().fold(0u64, |acc, d| {
            acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
        if n == 0 {
            self.token = Token::Invalid;
        }
    }

    fn next(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.token = Token::End;
            return;
        };
        match c {
            b'a'..=b'z' => {
                if self.token > Token::Digit {
                    return self.invalid();
                }
                self.value = self.take(1);
                self.token = Token::Letter;
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if self.token > Token::Digit {
                        return self.invalid();
                    }
                    self.take(1);
                }
                self.token = match self.token {
                    Token::InitialDigit | Token::Digit => Token::Digit,
                    Token::Suffix => Token::SuffixNo,
                    _ => return self.invalid(),
                };
                self.digits();
            }
            b'_' => {
                if self.token > Token::SuffixNo {
                    return self.invalid();
                }
                self.take(1);
                let n = self
                    .rest
                    .iter()
                    .take_while(|b| b.is_ascii_lowercase())
                    .count();
                self.value = self.take(n);
                match suffix_value(self.value) {
                    Some(s) => {
                        self.suffix = s;
                        self.token = Token::Suffix;
                    }
                    None => self.invalid(),
                }
            }
            b'~' => {
                if self.token >= Token::CommitHash {
                    return self.invalid();
                }
                self.take(1);
                let n = self
                    .rest
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                    .count();
                if n == 0 {
                    return self.invalid();
                }
                self.value = self.take(n);
                self.token = Token::CommitHash;
            }
            b'-' => {
                if self.token >= Token::RevisionNo || !self.rest.starts_with(b"-r") {
                    return self.invalid();
                }
                self.take(2);
                self.token = Token::RevisionNo;
                self.digits();
            }
            _ => self.invalid(),
        }
    }

    fn invalid(&mut self) {
        self.token = Token::Invalid;
    }
}

fn token_cmp(a: &State<'_>, b: &State<'_>) -> Ordering {
    match a.token {
        Token::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Token::Digit | Token::InitialDigit | Token::SuffixNo | Token::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Token::Letter => a.value.first().cmp(&b.value.first()),
        Token::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// Whether apk-tools accepts `v` as a version.
pub fn is_valid(v: &str) -> bool {
    let mut t = State::first(v.as_bytes());
    while t.token < Token::End {
        t.next();
    }
    t.token == Token::End
}

/// Order two Alpine versions (`apk version -t`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ta, mut tb) = (State::first(a.as_bytes()), State::first(b.as_bytes()));
    while ta.token == tb.token && ta.token < Token::End {
        match token_cmp(&ta, &tb) {
            Ordering::Equal => {}
            o => return o,
        }
        ta.next();
        tb.next();
    }
    if ta.token == tb.token {
        return Ordering::Equal;
    }
    if ta.token == Token::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.token == Token::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    // The version that goes on with a "bigger" token kind is the smaller one (1.0-r1 > 1.0
    // because End > RevisionNo).
    tb.token.cmp(&ta.token)
}
