//! The crate's one integration-test binary (STYLE rule 10): bills rendered for real and read
//! back with Debian's poppler tools (`pdftotext`, `pdfinfo`), which know nothing of this code.

mod fixtures;
mod poppler;
mod render;
mod validation;
