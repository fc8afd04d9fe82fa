//! The records search benchmark (issue 6), the index side; `bench/records_search.sh` runs it and
//! then PostgreSQL full-text search over the same corpus and queries.
//!
//! ```text
//! cargo run --release -p munishare-records-search --example search_bench -- \
//!     --out DIR [--docs 1000000] [--towns 38] [--queries 200] [--rounds 5] [--seed 1] [--corpus-only true]
//! ```
//!
//! 1. Writes a deterministic corpus to `DIR/corpus/TOWN.tsv` (`town, id, department, date, title,
//!    body`):
//!    short municipal documents (40–240 words; words drawn with a Zipf law from a vocabulary of
//!    town-government terms, with common phrases such as "grand list" and "tax abatement").
//! 2. Indexes it, one index per town under `DIR/index/` (two towns at a time), timed:
//!    `index_docs_per_s`, `index_bytes`.
//! 3. Writes the queries to `DIR/queries.tsv` (`class, town, department, text`): single-term,
//!    multi-term (all words) and phrase, each with a department filter, `--queries` of each class.
//! 4. Runs each query once to warm up, then times it `--rounds` times (20 hits, total, facets and
//!    snippets) and keeps its median: one stall of a shared machine does not become a query's
//!    time. Prints `CLASS_p50_ms`, `CLASS_p95_ms` (over the queries' medians), `CLASS_mean_hits`.
//!
//! With `--corpus-only true` it stops after step 1 (`bench/records_ingest.sh` files that corpus
//! through `munishare import records`).
//!
//! The random numbers are SplitMix64 seeded from `--seed`: the same arguments give the same corpus
//! and queries.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use munishare_records_search::{IndexedDocument, SearchRequest, TownIndex, Visibility};

const VOCABULARY: &str = "town council board meeting minutes agenda motion seconded approved \
denied tabled public hearing budget appropriation transfer fund general capital reserve revenue \
expenditure tax levy mill rate assessment assessor revaluation grand list parcel property owner \
abatement exemption veteran elderly credit appeal assessment appeals board finance director \
treasurer collector delinquent interest lien sewer water road highway bridge culvert drainage \
paving pothole snow plowing salt sand fleet vehicle truck fuel diesel maintenance garage \
facility building roof boiler hvac inspection permit zoning wetlands planning commission \
variance site plan subdivision easement deed survey land records clerk vital birth death \
marriage license dog election registrar voter absentee ballot referendum ordinance charter \
policy personnel employee union contract grievance salary wage step grade classification \
pension benefit health insurance claim workers compensation police fire ambulance emergency \
dispatch library park recreation senior center youth program school education superintendent \
bond note audit auditor report annual statement payable receivable invoice vendor purchase \
order bid proposal award contract procurement cooperative state grant federal reimbursement \
municipal aid highway aid payment pilot housing authority redevelopment economic development \
tourism conservation open space farmland trail sidewalk streetlight traffic signal parking \
transfer station recycling refuse solid waste landfill stormwater pollution control plant \
engineer consultant legal counsel attorney litigation settlement claim notice hearing decision \
resolution proclamation appointment resignation vacancy term commission committee task force \
chairman secretary member quorum adjourned executive session minutes correction amendment \
first selectman mayor manager administrator deputy assistant office hours phone email website \
october november december january february march april may june july august september fiscal \
year quarter month week report review plan study analysis estimate projection schedule";

const PHRASES: &[&str] = &[
    "grand list",
    "tax abatement",
    "board of finance",
    "capital improvement",
    "public hearing",
    "mill rate",
    "open space",
    "fiscal year",
    "executive session",
    "transfer station",
    "assessment appeals",
    "purchase order",
];

const DEPARTMENTS: &[&str] = &[
    "finance",
    "assessor",
    "clerk",
    "public-works",
    "planning",
    "police",
    "human-resources",
    "parks",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Draws word ranks with a Zipf law (exponent 1) by inverting its cumulative weights.
struct Zipf {
    cumulative: Vec<u64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0u64;
        let cumulative = (1..=n as u64)
            .map(|rank| {
                total += 1_000_000_000 / rank;
                total
            })
            .collect();
        Zipf { cumulative }
    }
    fn draw(&self, rng: &mut Rng) -> usize {
        let x = rng.below(*self.cumulative.last().unwrap());
        self.cumulative.partition_point(|&c| c <= x)
    }
}

struct Args {
    out: PathBuf,
    docs: u64,
    towns: u64,
    queries: usize,
    rounds: usize,
    seed: u64,
    corpus_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        out: PathBuf::new(),
        docs: 1_000_000,
        towns: 38,
        queries: 200,
        rounds: 5,
        seed: 1,
        corpus_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--out" => a.out = PathBuf::from(value),
            "--docs" => a.docs = value.parse().expect("--docs"),
            "--towns" => a.towns = value.parse().expect("--towns"),
            "--queries" => a.queries = value.parse().expect("--queries"),
            "--rounds" => a.rounds = value.parse().expect("--rounds"),
            "--seed" => a.seed = value.parse().expect("--seed"),
            "--corpus-only" => a.corpus_only = value.parse().expect("--corpus-only true|false"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(!a.out.as_os_str().is_empty(), "give --out DIR");
    a
}

fn main() {
    let a = args();
    std::fs::create_dir_all(&a.out).unwrap();
    let words: Vec<&str> = VOCABULARY.split_whitespace().collect();
    let zipf = Zipf::new(words.len());
    let mut rng = Rng(a.seed);

    // 1. The corpus.
    let corpus = a.out.join("corpus");
    let _ = std::fs::remove_dir_all(&corpus);
    std::fs::create_dir_all(&corpus).unwrap();
    let started = Instant::now();
    {
        let mut outs: Vec<_> = (0..a.towns)
            .map(|t| BufWriter::new(File::create(corpus.join(format!("{t}.tsv"))).unwrap()))
            .collect();
        for n in 0..a.docs {
            let town = n % a.towns;
            let out = &mut outs[town as usize];
            let department = DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize];
            let date = 17_532 + rng.below(3_650); // 2018-01-01 + up to ten years
            let text = |count: u64, rng: &mut Rng| {
                let mut s = String::new();
                for i in 0..count {
                    if i > 0 {
                        s.push(' ');
                    }
                    if rng.below(12) == 0 {
                        s.push_str(PHRASES[rng.below(PHRASES.len() as u64) as usize]);
                    } else {
                        s.push_str(words[zipf.draw(rng)]);
                    }
                }
                s
            };
            let title = text(4 + rng.below(5), &mut rng);
            let body = text(40 + rng.below(200), &mut rng);
            writeln!(out, "{town}\t{n:08}\t{department}\t{date}\t{title}\t{body}").unwrap();
        }
    }
    println!("corpus_docs={}", a.docs);
    println!("corpus_bytes={}", dir_size(&corpus));
    println!("corpus_seconds={:.1}", started.elapsed().as_secs_f64());
    if a.corpus_only {
        return;
    }

    // 2. The indexes, one per town, two towns at a time.
    let index_dir = a.out.join("index");
    let _ = std::fs::remove_dir_all(&index_dir);
    let started = Instant::now();
    let next_town = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let town = next_town.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if town >= a.towns {
                        break;
                    }
                    index_town(&corpus, &index_dir, town);
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    println!("index_seconds={secs:.1}");
    println!("index_docs_per_s={:.0}", a.docs as f64 / secs);
    println!("index_bytes={}", dir_size(&index_dir));

    // 3. The queries.
    let mut queries = Vec::new();
    for class in ["single", "multi", "phrase"] {
        for _ in 0..a.queries {
            let town = rng.below(a.towns);
            let department = DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize];
            // Terms from the middle of the law: frequent enough to match, not in every document.
            let mut term = || words[10 + rng.below(150) as usize];
            let text = match class {
                "single" => term().to_owned(),
                "multi" => format!("{} {}", term(), term()),
                _ => format!("\"{}\"", PHRASES[rng.below(PHRASES.len() as u64) as usize]),
            };
            queries.push((class, town, department, text));
        }
    }
    {
        let mut out = BufWriter::new(File::create(a.out.join("queries.tsv")).unwrap());
        for (class, town, department, text) in &queries {
            writeln!(out, "{class}\t{town}\t{department}\t{text}").unwrap();
        }
    }

    // 4. Timed searches.
    let indexes: Vec<TownIndex> = (0..a.towns)
        .map(|t| TownIndex::open(&index_dir.join(t.to_string())).unwrap())
        .collect();
    let visibility = Visibility {
        departments: None,
        confidential: true,
        created_by: None,
    };
    for class in ["single", "multi", "phrase"] {
        let mut times = Vec::new();
        let mut hits = 0usize;
        for (_, town, department, text) in queries.iter().filter(|q| q.0 == class) {
            let request = SearchRequest {
                text: text.clone(),
                department: Some((*department).to_owned()),
                limit: 20,
                ..SearchRequest::default()
            };
            let index = &indexes[*town as usize];
            let results = index.search(&request, &visibility).unwrap();
            let mut mine: Vec<f64> = (0..a.rounds.max(1))
                .map(|_| {
                    let started = Instant::now();
                    index.search(&request, &visibility).unwrap();
                    started.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            mine.sort_by(f64::total_cmp);
            times.push(mine[mine.len() / 2]);
            hits += results.total;
        }
        times.sort_by(f64::total_cmp);
        let at = |p: f64| times[((times.len() as f64 * p).ceil() as usize).max(1) - 1];
        println!("{class}_p50_ms={:.2}", at(0.50));
        println!("{class}_p95_ms={:.2}", at(0.95));
        println!("{class}_mean_hits={}", hits / times.len().max(1));
    }
}

fn index_town(corpus: &Path, index_dir: &Path, town: u64) {
    let index = TownIndex::open(&index_dir.join(town.to_string())).unwrap();
    let mut batch = Vec::with_capacity(50_000);
    let file = BufReader::new(File::open(corpus.join(format!("{town}.tsv"))).unwrap());
    for line in file.lines() {
        let line = line.unwrap();
        let mut cols = line.splitn(6, '\t');
        let mut col = || cols.next().unwrap().to_owned();
        let (_, id, department, date, title, body) = (col(), col(), col(), col(), col(), col());
        batch.push(IndexedDocument {
            id,
            title,
            body,
            department: Some(department),
            date: Some(date.parse().unwrap()),
            created_by: "bench".into(),
            ..IndexedDocument::default()
        });
        if batch.len() == batch.capacity() {
            index.apply(&batch, &[]).unwrap();
            batch.clear();
        }
    }
    index.apply(&batch, &[]).unwrap();
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        dir_size(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
