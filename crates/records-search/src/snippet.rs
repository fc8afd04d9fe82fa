//! Snippets: the passages of a hit's text around the words the query matched.
//!
//! tantivy's generator re-tokenizes every hit's text with the field's analyzer; with English
//! stemming, stemming took half of a whole search's time (measured: 38 % of samples in the
//! stemmer alone, 20 hits per page). Hits share their vocabulary, so here each distinct word is
//! stemmed once per search and looked up after that. Only the first [`SOURCE_LIMIT`] bytes of a
//! text are searched for a passage, so a long OCR'd report costs no more than a short letter.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    BoxTokenStream, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Characters of a snippet.
const SNIPPET_CHARS: usize = 200;
/// Bytes of a text searched for its snippet.
pub const SOURCE_LIMIT: usize = 64 * 1024;

/// The index's `en_stem` analyzer (simple tokens, at most 40 bytes, lower case, English stems),
/// stemming each distinct word once.
#[derive(Clone)]
struct MemoStem {
    words: TextAnalyzer,
    stemmer: TextAnalyzer,
    stems: Arc<Mutex<HashMap<String, String>>>,
}

impl MemoStem {
    fn new() -> MemoStem {
        MemoStem {
            words: TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(40))
                .filter(LowerCaser)
                .build(),
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(Language::English))
                .build(),
            stems: Arc::default(),
        }
    }
}

impl Tokenizer for MemoStem {
    type TokenStream<'a> = MemoStemStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> MemoStemStream<'a> {
        MemoStemStream {
            words: self.words.token_stream(text),
            stemmer: &mut self.stemmer,
            stems: self.stems.lock().unwrap_or_else(PoisonError::into_inner),
            token: Token::default(),
        }
    }
}

/// The words of a text, each replaced by its stem, in one reused token (no allocation once the
/// stems are known).
struct MemoStemStream<'a> {
    words: BoxTokenStream<'a>,
    stemmer: &'a mut TextAnalyzer,
    stems: MutexGuard<'a, HashMap<String, String>>,
    token: Token,
}

impl TokenStream for MemoStemStream<'_> {
    fn advance(&mut self) -> bool {
        if !self.words.advance() {
            return false;
        }
        let word = self.words.token();
        if !self.stems.contains_key(&word.text) {
            let mut stemmed = self.stemmer.token_stream(&word.text);
            let stem = stemmed
                .next()
                .map_or_else(|| word.text.clone(), |t| t.text.clone());
            self.stems.insert(word.text.clone(), stem);
        }
        let stem = self.stems.get(&word.text).map_or("", String::as_str);
        self.token.text.clear();
        self.token.text.push_str(stem);
        self.token.offset_from = word.offset_from;
        self.token.offset_to = word.offset_to;
        self.token.position = word.position;
        self.token.position_length = word.position_length;
        true
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Snippets for the words `query` looks for in `field`, weighted as tantivy does (rarer words
/// count more).
pub struct Snippets(SnippetGenerator);

impl Snippets {
    /// The generator for one search.
    pub fn new(searcher: &Searcher, query: &dyn Query, field: Field) -> tantivy::Result<Snippets> {
        let mut terms = Vec::new();
        query.query_terms(&mut |term, _| {
            if term.field() == field {
                terms.push(term.clone());
            }
        });
        let mut weights = BTreeMap::new();
        for term in terms {
            if let Some(text) = term.value().as_str() {
                let frequency = searcher.doc_freq(&term)?;
                if frequency > 0 {
                    weights.insert(text.to_owned(), 1.0 / (1.0 + frequency as f32));
                }
            }
        }
        Ok(Snippets(SnippetGenerator::new(
            weights,
            TextAnalyzer::from(MemoStem::new()),
            field,
            SNIPPET_CHARS,
        )))
    }

    /// The best passage of `text` (its first `SOURCE_LIMIT` bytes), HTML-escaped, the matched
    /// words in `<b>`; empty when none of the words is there.
    pub fn html(&self, text: &str) -> String {
        let mut end = text.len().min(SOURCE_LIMIT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.0.snippet(&text[..end]).to_html()
    }
}
