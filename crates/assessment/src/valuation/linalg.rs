//! Least squares by Householder QR, written out (the matrices are at most a
//! few hundred columns) so that rank deficiency is detected and explained
//! instead of producing huge, meaningless coefficients.
//!
//! Each column is first scaled to unit length; after the reflections for the
//! earlier columns, what is left of a column below the diagonal is its
//! distance from the span of the earlier columns (the sine of the angle). A
//! column whose distance is below [`DEPENDENT`] is a linear combination of
//! earlier ones; the combination is read off the triangular factor, so the
//! error can name every column involved.
//!
//! The arithmetic is a fixed sequence of IEEE operations (no threads, no
//! reordering): the same input gives bit-identical output on every run.

/// A scaled column closer than this to the span of the earlier columns is
/// taken as a linear combination of them.
pub(crate) const DEPENDENT: f64 = 1e-9;

/// Columns whose share of a dependent column's combination is at least this
/// are reported as involved.
const INVOLVED: f64 = 1e-7;

/// The least-squares solution and what the standard errors need.
#[derive(Debug, Clone)]
pub(crate) struct LeastSquares {
    /// The coefficients.
    pub beta: Vec<f64>,
    /// The diagonal of (XᵀX)⁻¹.
    pub xtx_inv_diag: Vec<f64>,
}

/// Column `column` is (numerically) a linear combination of `involved`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dependent {
    /// The column found dependent.
    pub column: usize,
    /// The earlier columns it is a combination of (empty for a zero column).
    pub involved: Vec<usize>,
}

/// Dot product with four accumulators (a fixed order, so deterministic; the
/// compiler vectorizes it).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0_f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Solves min ‖y − Xβ‖ for `x` stored column by column (`x[j * n + i]` is
/// row i of column j), n rows and k columns, n ≥ k.
pub(crate) fn least_squares(
    x: &[f64],
    n: usize,
    k: usize,
    y: &[f64],
) -> Result<LeastSquares, Dependent> {
    // The working matrix: the scaled columns of X, then y.
    let mut a = Vec::with_capacity(n * (k + 1));
    let mut norms = Vec::with_capacity(k);
    for j in 0..k {
        let col = &x[j * n..(j + 1) * n];
        let norm = dot(col, col).sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(Dependent {
                column: j,
                involved: Vec::new(),
            });
        }
        norms.push(norm);
        a.extend(col.iter().map(|v| v / norm));
    }
    a.extend_from_slice(y);
    let mut v = vec![0.0; n];
    for j in 0..k {
        let (left, right) = a.split_at_mut((j + 1) * n);
        let col = &mut left[j * n..];
        let sigma = dot(&col[j..], &col[j..]).sqrt();
        if sigma < DEPENDENT {
            return Err(Dependent {
                column: j,
                involved: combination(&a, n, j),
            });
        }
        // The reflection that maps col[j..] onto alpha·e₁.
        let alpha = if col[j] > 0.0 { -sigma } else { sigma };
        let v = &mut v[..n - j];
        v.copy_from_slice(&col[j..]);
        v[0] -= alpha;
        let vtv = dot(v, v);
        col[j] = alpha;
        for c in col[j + 1..].iter_mut() {
            *c = 0.0;
        }
        for other in right.chunks_exact_mut(n) {
            let tail = &mut other[j..];
            let f = 2.0 * dot(v, tail) / vtv;
            for (t, vi) in tail.iter_mut().zip(v.iter()) {
                *t -= f * vi;
            }
        }
    }
    // R (upper triangular, k × k, row-major) and the first k of Qᵀy.
    let r: Vec<f64> = (0..k)
        .flat_map(|i| (0..k).map(move |l| (i, l)))
        .map(|(i, l)| if l >= i { a[l * n + i] } else { 0.0 })
        .collect();
    let qty: Vec<f64> = a[k * n..k * n + k].to_vec();
    let scaled = back_substitute(&r, k, &qty);
    // (XsᵀXs)⁻¹ = R⁻¹R⁻ᵀ: its diagonal is the row sums of squares of R⁻¹.
    let mut rinv = vec![0.0; k * k];
    let mut e = vec![0.0; k];
    for l in 0..k {
        e.iter_mut().for_each(|x| *x = 0.0);
        e[l] = 1.0;
        let z = back_substitute(&r, k, &e);
        for i in 0..k {
            rinv[i * k + l] = z[i];
        }
    }
    let xtx_inv_diag = (0..k)
        .map(|i| {
            let row = &rinv[i * k..(i + 1) * k];
            dot(row, row) / (norms[i] * norms[i])
        })
        .collect();
    let beta = scaled.iter().zip(&norms).map(|(b, s)| b / s).collect();
    Ok(LeastSquares { beta, xtx_inv_diag })
}

/// Solves R z = b for upper-triangular R (row-major, k × k).
fn back_substitute(r: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; k];
    for i in (0..k).rev() {
        let mut s = b[i];
        for l in i + 1..k {
            s -= r[i * k + l] * z[l];
        }
        z[i] = s / r[i * k + i];
    }
    z
}

/// Which of columns 0..j the dependent column j is a combination of: its
/// part above the diagonal is R[0..j, 0..j] times the combination's weights.
fn combination(a: &[f64], n: usize, j: usize) -> Vec<usize> {
    let r: Vec<f64> = (0..j)
        .flat_map(|i| (0..j).map(move |l| (i, l)))
        .map(|(i, l)| if l >= i { a[l * n + i] } else { 0.0 })
        .collect();
    let top: Vec<f64> = (0..j).map(|i| a[j * n + i]).collect();
    let w = back_substitute(&r, j, &top);
    (0..j).filter(|&i| w[i].abs() >= INVOLVED).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_dependent_column_names_its_combination() {
        // Columns: 1, x, z, 2x − 1 (= 2·x − 1·intercept), n = 5.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let z = [2.0, 1.0, 0.0, 1.0, 3.0];
        let mut m = vec![1.0; 5];
        m.extend_from_slice(&x);
        m.extend_from_slice(&z);
        m.extend(x.iter().map(|v| 2.0 * v - 1.0));
        let y = [1.0, 2.0, 2.0, 3.0, 5.0];
        let err = least_squares(&m, 5, 4, &y).unwrap_err();
        assert_eq!(
            err,
            Dependent {
                column: 3,
                involved: vec![0, 1]
            }
        );
        // Without the dependent column, y = a + b x + c z is solved exactly
        // by numpy.linalg.lstsq([[1,1,2],[1,2,1],[1,3,0],[1,4,1],[1,5,3]], y):
        // (-0.4333333…, 0.8166666…, 0.4166666…) = (-13/30, 49/60, 5/12).
        let ls = least_squares(&m[..15], 5, 3, &y).unwrap();
        for (b, e) in ls.beta.iter().zip([-13.0 / 30.0, 49.0 / 60.0, 5.0 / 12.0]) {
            assert!((b - e).abs() < 1e-12, "{:?}", ls.beta);
        }
    }
}
