/* dromo's compiled increment of a batch of draws (batch.py, batch_kernel.py). dromo_batch_newton, one call per
 * increment: for each draw in turn, the quadrature points' loop of solve_batch's Python path, step for step
 * (strains of the reduced coordinates, the von Mises point update of vonmises_kernel.c, reduced residual,
 * structured reduced tangent, dense solve), with its convergence test and its failure cases; dromo_batch_dual:
 * the dual points' laws at the converged coordinates. The law's parameters and thermal strains are interpolated
 * per draw from its tables (tables_t). The Python path stays the reference (tests/uq/test_dictionary.py compares
 * the two); this one only removes the per-iteration array traffic of the batch, so a draw's data stay in cache.
 * Compiled on first use together with vonmises_kernel.c (cbuild.py).
 *
 * Layout (C-contiguous; k reduced coordinates, nq quadrature points, kt = k (k + 1) / 2, Mandel notation):
 *   E2T     (k, 6 nq)   mode strains at the points            eps = E2T^T g + lift
 *   lift    (6 nq)      lifting strains at t_{n+1}, or NULL
 *   EwTT    (k, 6 nq)   weighted mode strains                  r = EwTT sigma - f
 *   absEwTT (k, 6 nq)   |EwTT|                                 ref = max(|f|, | absEwTT |sigma| |)
 *   absnorm             an upper bound of the spectral norm of absEwTT
 *   AB      (2 nq, kt)  upper triangles of A_p = w_p E_p^T J E_p, then of B_p = w_p E_p^T D E_p
 *   E (nq, 6, k), w (nq): the rank-one parts, K += w_p (E_p^T u_p)(E_p^T n_p)^T where u_p != 0
 *   tb: the law's parameter tables (tables_t), np the kernel's parameters per point (vonmises_kernel.c)
 *   per draw b (offsets b * nq, b * nq * 6, b * nq * ns):
 *     T1 (nq) the temperatures at t_{n+1} (within the tables' ranges); eps0 (nq, 6), st0 (nq, ns) the start of
 *     the increment; G (k) in: the first iterate, out: the last; eps1, sig1 (nq, 6), st1 (nq, ns) out: the
 *     converged values
 *   active (B) bytes: the draws to solve (the others are not touched)
 *   work: 20 nq + k (k + 4) + kt + nq (np + 6) doubles (strain increments, tangent parts, residuals, K,
 *         rank-one vectors, triangle, parameters and thermal strains), fail: nq bytes
 * Per draw out: status (0 converged, 1 non-finite strains, 2 local law failure at info_n points, 3 non-finite
 * residual, 4 diverging, 5 no convergence, 6 singular reduced tangent), info_it the iteration it ended at,
 * info_r (2): its residual and the residual of iteration 1, evals the law evaluations.
 */
#include <math.h>
#include <string.h>

void dromo_vonmises_update(long m, int nv, int nk, int viscous, int linear, double dt, double rtol, int maxit,
                           const double *eps, const double *deps, const double *eth, const double *st0,
                           long ns, const double *par, long np, double *stress, double *st1, double *tangent,
                           unsigned char *failed, double *parts);

/* K x = r by Gaussian elimination with partial pivoting (K, r overwritten; x in r); 1 when a pivot is 0 (where
 * LAPACK's getrf reports a singular matrix) */
static int dense_solve(int k, double *K, double *r)
{
    for (int c = 0; c < k; c++) {
        int piv = c;
        double best = fabs(K[c * k + c]);
        for (int i = c + 1; i < k; i++)
            if (fabs(K[i * k + c]) > best) {
                best = fabs(K[i * k + c]);
                piv = i;
            }
        if (!(best > 0.0)) return 1;
        if (piv != c) {
            for (int j = 0; j < k; j++) {
                double t = K[c * k + j];
                K[c * k + j] = K[piv * k + j];
                K[piv * k + j] = t;
            }
            double t = r[c];
            r[c] = r[piv];
            r[piv] = t;
        }
        const double d = K[c * k + c];
        for (int i = c + 1; i < k; i++) {
            const double f = K[i * k + c] / d;
            if (f == 0.0) continue;
            for (int j = c + 1; j < k; j++) K[i * k + j] -= f * K[c * k + j];
            r[i] -= f * r[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        double s = r[c];
        for (int j = c + 1; j < k; j++) s -= K[c * k + j] * r[j];
        r[c] = s / K[c * k + c];
    }
    return 0;
}

/* The law's parameters as tables in temperature (VonMises.kernel_tables): table i has cnt[i] nodes T[off[i]..],
 * values V[off[i]..] (cnt 1: a constant), in the order E, nu, R0, H, (Q_j, b_j) x nv, (C_i, D_i) x nk, [K, n],
 * then, with thermal, the expansion coefficients alpha_1..3 and T_ref. Temperatures within every table's range
 * (checked by the caller). */
typedef struct {
    long n;
    const long *off, *cnt;
    const double *T, *V;
    int thermal;
    double T_ref;
} tables_t;

/* table i at x, as numpy.interp */
static double table_at(const tables_t *tb, long i, double x)
{
    const long c = tb->cnt[i];
    const double *tt = tb->T + tb->off[i], *tv = tb->V + tb->off[i];
    if (c == 1) return tv[0];
    if (x >= tt[c - 1]) return tv[c - 1];
    long j = 0;
    while (j + 2 < c && tt[j + 1] <= x) j++;
    const double slope = (tv[j + 1] - tv[j]) / (tt[j + 1] - tt[j]);
    return slope * (x - tt[j]) + tv[j];
}

/* the kernel's parameter rows (m, np) and thermal strains (m, 6) (if the law has them) at the temperatures
 * T (m), as VonMises._kernel_parameters: G, Kb from E and nu, then the other tables in order */
static void parameters(const tables_t *tb, long m, long np, const double *T, double *par, double *eth)
{
    for (long p = 0; p < m; p++) {
        const double x = T[p], E = table_at(tb, 0, x), nu = table_at(tb, 1, x);
        double *row = par + p * np;
        row[0] = E / (2 * (1 + nu));
        row[1] = E / (3 * (1 - 2 * nu));
        for (long c = 2; c < np; c++) row[c] = table_at(tb, c, x);
        if (tb->thermal) {
            const double dT = x - tb->T_ref;
            double *e = eth + 6 * p;
            for (int i = 0; i < 3; i++) e[i] = table_at(tb, np + i, x) * dT;
            e[3] = e[4] = e[5] = 0.0;
        }
    }
}

#define BLK 8 /* the register blocks of the sums below (a multiple of the vector width) */
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline)) /* into each clone of the caller, in its ISA */
#else
#define INLINE static inline
#endif

/* e = lift + E2T^T g over the 6 n strain components, lift may be NULL; blocks of BLK components summed in
 * registers over the k modes (one store per block), j ascending as a column-by-column axpy would */
INLINE void strains(long n6, int k, const double *E2T, const double *lift, const double *g, double *e)
{
    long i = 0;
    for (; i + BLK <= n6; i += BLK) {
        double acc[BLK];
        for (int t = 0; t < BLK; t++) acc[t] = lift ? lift[i + t] : 0.0;
        for (int j = 0; j < k; j++) {
            const double gj = g[j], *col = E2T + j * n6 + i;
            for (int t = 0; t < BLK; t++) acc[t] += gj * col[t];
        }
        for (int t = 0; t < BLK; t++) e[i + t] = acc[t];
    }
    for (; i < n6; i++) {
        double a = lift ? lift[i] : 0.0;
        for (int j = 0; j < k; j++) a += g[j] * E2T[j * n6 + i];
        e[i] = a;
    }
}

/* x . y over n values, in BLK partial sums (then added in order) */
INLINE double dot(long n, const double *x, const double *y)
{
    double acc[BLK] = {0.0};
    long i = 0;
    for (; i + BLK <= n; i += BLK)
        for (int t = 0; t < BLK; t++) acc[t] += x[i + t] * y[i + t];
    double s = 0.0;
    for (int t = 0; t < BLK; t++) s += acc[t];
    for (; i < n; i++) s += x[i] * y[i];
    return s;
}

/* x86-64: an AVX2/FMA clone besides the baseline one, picked at load time (the sums of this loop are most
 * of its time outside the law) */
#if defined(__x86_64__) && defined(__GNUC__) && __GNUC__ >= 11 && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void dromo_batch_newton(long B, int k, long nq, const double *E2T, const double *lift, const double *EwTT,
                        const double *absEwTT, double absnorm, const double *AB, const double *E,
                        const double *w, const double *f, double fnorm, double rtol, double atol, int max_iterations,
                        int nv, int nk, int viscous, int linear, double dt, double lrtol, int lmaxit, long ns,
                        long np, const tables_t *tb, const double *T1, const double *eps0, const double *st0,
                        double *G, double *eps1, double *sig1, double *st1, const unsigned char *active,
                        int *status, long *info_it, double *info_r, long *info_n, long *evals, double *work,
                        unsigned char *fail)
{
    const long n6 = 6 * nq;
    const int kt = k * (k + 1) / 2;
    double *deps = work, *parts = work + n6, *r = parts + 14 * nq, *ra = r + k, *K = ra + k, *U = K + k * k,
           *V = U + k, *tri = V + k, *P = tri + kt, *th = P + nq * np;
    for (long b = 0; b < B; b++) {
        if (!active[b]) continue;
        const double *e0 = eps0 + b * n6, *s0 = st0 + b * nq * ns;
        parameters(tb, nq, np, T1 + b * nq, P, th);
        double *g = G + b * k, *e1 = eps1 + b * n6, *sg = sig1 + b * n6, *s1 = st1 + b * nq * ns;
        double res1 = 0.0, res_prev = 0.0, rn = 0.0;
        int st = 5;
        long it;
        info_n[b] = 0;
        evals[b] = 0;
        for (it = 0; it <= max_iterations; it++) {
            evals[b]++;
            /* strains and their increments */
            strains(n6, k, E2T, lift, g, e1);
            int finite = 1;
            for (long i = 0; i < n6; i++) finite &= isfinite(e1[i]);
            if (!finite) {
                st = 1;
                break;
            }
            for (long i = 0; i < n6; i++) deps[i] = e1[i] - e0[i];
            dromo_vonmises_update(nq, nv, nk, viscous, linear, dt, lrtol, lmaxit, e0, deps, tb->thermal ? th : NULL,
                                  s0, ns, P, np, sg, s1, NULL, fail, parts);
            long nf = 0;
            for (long p = 0; p < nq; p++) nf += fail[p] != 0;
            if (nf) {
                st = 2;
                info_n[b] = nf;
                break;
            }
            /* reduced residual; its reference ref = max(|f|, |absEwTT |sigma||) only where the test needs it:
             * fnorm <= ref <= max(fnorm, absnorm |sigma|) (absnorm >= the spectral norm of absEwTT) */
            for (int j = 0; j < k; j++) r[j] = dot(n6, EwTT + j * n6, sg);
            const double ss = dot(n6, sg, sg);
            rn = 0.0;
            for (int j = 0; j < k; j++) {
                r[j] -= f[j];
                rn += r[j] * r[j];
            }
            rn = sqrt(rn);
            const double ub = absnorm * sqrt(ss);
            double ref;
            if (rn <= (rtol * fnorm > atol ? rtol * fnorm : atol))
                ref = fnorm;                                       /* converged whatever ref is */
            else if (rn > rtol * (fnorm > ub ? fnorm : ub) && rn > atol)
                ref = fnorm > ub ? fnorm : ub;                     /* not converged whatever ref is */
            else {
                for (long i = 0; i < n6; i++) deps[i] = fabs(sg[i]);      /* deps is free again here */
                for (int j = 0; j < k; j++) ra[j] = dot(n6, absEwTT + j * n6, deps);
                double rr = 0.0;
                for (int j = 0; j < k; j++) rr += ra[j] * ra[j];
                rr = sqrt(rr);
                ref = fnorm > rr ? fnorm : rr;
            }
            if (it == 1) res1 = rn;
            const double target = rtol * ref > atol ? rtol * ref : atol;
            if (rn <= target || k == 0) {
                st = 0;
                break;
            }
            if (!isfinite(rn)) {
                st = 3;
                break;
            }
            if (it >= 3 && rn > 1e3 * (res1 > atol ? res1 : atol) && rn > 1e2 * res_prev) {
                st = 4;
                break;
            }
            if (it == max_iterations) {
                st = 5;
                break;
            }
            res_prev = rn;
            /* structured reduced tangent: isotropic parts (upper triangles), then the rank-one parts */
            {
                int t0 = 0;
                for (; t0 + BLK <= kt; t0 += BLK) {                /* BLK entries summed in registers over p */
                    double acc[BLK] = {0.0};
                    for (long p = 0; p < nq; p++) {
                        const double kb = parts[14 * p], cd = parts[14 * p + 1];
                        const double *A = AB + p * kt + t0, *Bm = AB + (nq + p) * kt + t0;
                        for (int t = 0; t < BLK; t++) acc[t] += kb * A[t] + cd * Bm[t];
                    }
                    for (int t = 0; t < BLK; t++) tri[t0 + t] = acc[t];
                }
                for (int t = t0; t < kt; t++) {
                    double a = 0.0;
                    for (long p = 0; p < nq; p++) a += parts[14 * p] * AB[p * kt + t] + parts[14 * p + 1] * AB[(nq + p) * kt + t];
                    tri[t] = a;
                }
            }
            for (int a = 0, t = 0; a < k; a++)
                for (int c = a; c < k; c++, t++) K[a * k + c] = K[c * k + a] = tri[t];
            for (long p = 0; p < nq; p++) {
                const double *u = parts + 14 * p + 2, *nn = parts + 14 * p + 8;
                if (u[0] == 0.0 && u[1] == 0.0 && u[2] == 0.0 && u[3] == 0.0 && u[4] == 0.0 && u[5] == 0.0)
                    continue;
                const double *Ep = E + p * 6 * k;
                for (int j = 0; j < k; j++) {
                    double su = 0.0, sn = 0.0;
                    for (int c = 0; c < 6; c++) {
                        su += u[c] * Ep[c * k + j];
                        sn += nn[c] * Ep[c * k + j];
                    }
                    U[j] = su * w[p];
                    V[j] = sn;
                }
                for (int a = 0; a < k; a++)
                    for (int c = 0; c < k; c++) K[a * k + c] += U[a] * V[c];
            }
            if (dense_solve(k, K, r)) {
                st = 6;
                break;
            }
            for (int j = 0; j < k; j++) g[j] -= r[j];
        }
        status[b] = st;
        info_it[b] = it > max_iterations ? max_iterations : it;
        info_r[2 * b] = rn;
        info_r[2 * b + 1] = res1;
    }
}

/* The dual points (zero weight: the dual fields' Gappy-POD only) of the draws that converged (active and
 * status 0), once per increment at the converged coordinates G: their strains E2dT^T g + liftd and the law
 * there (as solve_batch's Python path). Layout as dromo_batch_newton's with nd points and the dual group's law;
 * work: nd (12 + np) doubles, fail: nd bytes. A draw whose law fails at some of these points gets status 7 and the
 * count in info_n. */
void dromo_batch_dual(long B, int k, long nd, const double *E2dT, const double *liftd, int nv, int nk, int viscous,
                      int linear, double dt, double lrtol, int lmaxit, long ns, long np, const tables_t *tb,
                      const double *T1, const double *eps0, const double *st0, const double *G, double *eps1,
                      double *sig1, double *st1, const unsigned char *active, int *status, long *info_n,
                      double *work, unsigned char *fail)
{
    const long n6 = 6 * nd;
    double *deps = work, *P = work + n6, *th = P + nd * np;
    for (long b = 0; b < B; b++) {
        if (!active[b] || status[b] != 0) continue;
        parameters(tb, nd, np, T1 + b * nd, P, th);
        const double *e0 = eps0 + b * n6, *g = G + b * k;
        double *e1 = eps1 + b * n6;
        strains(n6, k, E2dT, liftd, g, e1);
        for (long i = 0; i < n6; i++) deps[i] = e1[i] - e0[i];
        dromo_vonmises_update(nd, nv, nk, viscous, linear, dt, lrtol, lmaxit, e0, deps, tb->thermal ? th : NULL,
                              st0 + b * nd * ns, ns, P, np, sig1 + b * n6, st1 + b * nd * ns, NULL, fail, NULL);
        long nf = 0;
        for (long p = 0; p < nd; p++) nf += fail[p] != 0;
        if (nf) {
            status[b] = 7;
            info_n[b] = nf;
        }
    }
}
