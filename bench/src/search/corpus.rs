//! The generated corpus: items of realistic Chinese, English and mixed
//! text drawn from bundled word-frequency lists (no download), the query
//! set timed, the labelled queries for recall and their truth.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

pub(super) const ZH: &str = include_str!("../../data/zh_words.tsv");
pub(super) const EN: &str = include_str!("../../data/en_words.tsv");
pub(super) const PLATFORMS: [&str; 6] = [
    "weibo",
    "twitter",
    "bilibili",
    "zhihu",
    "xiaohongshu",
    "web",
];

/// A word list with cumulative weights, sampled by frequency.
pub(super) struct Vocab {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocab {
    fn parse(tsv: &str) -> Vocab {
        let mut words = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for line in tsv.lines().filter(|l| !l.starts_with('#')) {
            let Some((w, f)) = line.split_once('\t') else {
                continue;
            };
            // Frequency lists are Zipfian; flatten the head a little so the
            // corpus is not all function words.
            total += f.trim().parse::<f64>().unwrap_or(1.0).sqrt();
            words.push(w.to_owned());
            cumulative.push(total);
        }
        Vocab { words, cumulative }
    }

    fn pick(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.next_f64() * total;
        let i = self.cumulative.partition_point(|c| *c < x);
        &self.words[i.min(self.words.len() - 1)]
    }
}

/// A small deterministic generator (xorshift*), so every run builds the
/// same corpus.
pub(super) struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn next_f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub(super) struct Corpus {
    zh: Vocab,
    en: Vocab,
}

/// One generated item.
pub(super) struct Item {
    title: String,
    text: String,
    platform: &'static str,
}

impl Corpus {
    pub(super) fn new() -> Corpus {
        Corpus {
            zh: Vocab::parse(ZH),
            en: Vocab::parse(EN),
        }
    }

    fn zh_text(&self, rng: &mut Rng, words: usize) -> String {
        let mut s = String::new();
        for i in 0..words {
            s.push_str(self.zh.pick(rng));
            if i % 9 == 8 {
                s.push(if rng.below(3) == 0 { '。' } else { '，' });
            }
        }
        s
    }

    fn en_text(&self, rng: &mut Rng, words: usize) -> String {
        let mut out: Vec<String> = Vec::with_capacity(words);
        for i in 0..words {
            let w = self.en.pick(rng);
            out.push(if i == 0 { capitalise(w) } else { w.to_owned() });
        }
        out.join(" ") + "."
    }

    /// Item `n` (the same text for the same `n`, every run).
    pub(super) fn item(&self, n: u64) -> Item {
        let mut rng = Rng::new(n + 1);
        let lang = rng.below(100);
        let (title, text) = if lang < 45 {
            let (tn, xn) = (4 + rng.below(5) as usize, 20 + rng.below(60) as usize);
            let title = self.zh_text(&mut rng, tn);
            let mut text = self.zh_text(&mut rng, xn);
            if rng.below(10) == 0 {
                text = hanconv::s2t(&text);
            }
            (title, text)
        } else if lang < 80 {
            let (tn, xn) = (4 + rng.below(6) as usize, 20 + rng.below(60) as usize);
            let title = self.en_text(&mut rng, tn);
            let text = self.en_text(&mut rng, xn);
            (title, text)
        } else {
            let title = format!(
                "{} {}",
                self.zh_text(&mut rng, 3),
                self.en_text(&mut rng, 3)
            );
            let text = format!(
                "{} {} {}",
                self.zh_text(&mut rng, 15),
                self.en_text(&mut rng, 15),
                self.zh_text(&mut rng, 10)
            );
            (title, text)
        };
        Item {
            title,
            text,
            platform: PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize],
        }
    }
}

pub(super) fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Insert `n` items (pulled, with text) in multi-row statements.
pub(super) async fn fill(db: &DatabaseConnection, corpus: &Corpus, n: u64) -> anyhow::Result<()> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let now = chrono::Utc::now();
    const BATCH: u64 = 400;
    let mut start = 0;
    while start < n {
        let end = (start + BATCH).min(n);
        let mut sql = String::from(
            "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, title, text, \
             author_name, failure_count, attempts, pulled_at, published_at, created_at, updated_at) VALUES ",
        );
        let mut values: Vec<Value> = Vec::new();
        for id in start..end {
            let it = corpus.item(id);
            let base = values.len();
            let p = |i: usize| match backend {
                DbBackend::Postgres => format!("${}", base + i),
                _ => "?".to_owned(),
            };
            if id > start {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({}, {}, {}, {}, 'post', 'pulled', {}, {}, 'bench', 0, 0, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10)
            ));
            values.extend([
                Value::from((id + 1) as i64),
                Value::from(it.platform),
                Value::from(format!("b{id}")),
                Value::from(format!("https://example.com/b/{id}")),
                Value::from(it.title),
                Value::from(it.text),
                Value::from(now),
                Value::from(now),
                Value::from(now),
                Value::from(now),
            ]);
        }
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        txn.commit().await?;
        start = end;
    }
    Ok(())
}

/// The queries timed, by what kind of query each is.
pub(super) fn query_set(corpus: &Corpus) -> Vec<(&'static str, String)> {
    let zh2: Vec<&String> = corpus
        .zh
        .words
        .iter()
        .filter(|w| w.chars().count() == 2)
        .collect();
    let en = &corpus.en.words;
    // A phrase that exists: two adjacent words of a generated English item.
    let phrase = (0..1000)
        .map(|n| corpus.item(n))
        .find(|i| i.text.is_ascii() && i.text.split(' ').count() > 5)
        .map(|i| {
            i.text
                .split(' ')
                .skip(2)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "of the".to_owned());
    vec![
        ("common word (zh)", zh2[20].clone()),
        ("common word (en)", en[150].clone()),
        ("rare word", en[9000].clone()),
        ("two-character zh word", zh2[1500].clone()),
        ("phrase", format!("\"{phrase}\"")),
        ("filtered", format!("{} platform:weibo", zh2[40])),
        ("no hit", "zzqxjvv".to_owned()),
    ]
}

/// The labelled queries for recall: Chinese words of two characters (where
/// the databases' own tokenizers fail), longer Chinese words, and English
/// words.
pub(super) fn labelled(corpus: &Corpus) -> Vec<String> {
    let zh2: Vec<&String> = corpus
        .zh
        .words
        .iter()
        .filter(|w| w.chars().count() == 2)
        .collect();
    let zh3: Vec<&String> = corpus
        .zh
        .words
        .iter()
        .filter(|w| w.chars().count() == 3)
        .collect();
    let mut out: Vec<String> = [300, 800, 1200, 2500, 4000]
        .iter()
        .filter_map(|i| zh2.get(*i).map(|w| (*w).clone()))
        .collect();
    out.extend(
        [100, 600]
            .iter()
            .filter_map(|i| zh3.get(*i).map(|w| (*w).clone())),
    );
    out.extend([500, 3000].iter().map(|i| corpus.en.words[*i].clone()));
    out
}

/// The items whose text contains `word` (Chinese: as a substring, in
/// either script; English: as a whole word, plural or not).
pub(super) fn truth(corpus: &Corpus, n: u64, word: &str) -> HashSet<i64> {
    let latin = word.is_ascii();
    let trad = hanconv::s2t(word);
    (0..n)
        .filter(|id| {
            let it = corpus.item(*id);
            let hay = format!("{} {}", it.title, it.text);
            if latin {
                hay.to_lowercase()
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|w| w == word || w.strip_suffix('s') == Some(word))
            } else {
                hay.contains(word) || hay.contains(&trad)
            }
        })
        .map(|id| id as i64 + 1)
        .collect()
}
