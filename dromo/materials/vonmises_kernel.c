/* dromo's compiled point update of the von Mises law (viscoplastic.py), one call per chunk of points.
 *
 * The same algorithm, step for step, as the numpy path of VonMises._update_chunk (which stays the
 * reference, see tests/materials/test_vonmises_kernel.py): trial state, the scalar backward-Euler
 * equation F(x) = 0 solved by the safeguarded Newton of newton.py (bracket [0, inf), bisection or
 * doubling when a step leaves it), then stress, state and consistent tangent. Compiled on first use
 * (cbuild.py); without a C compiler dromo keeps the numpy path.
 *
 * Layout (C-contiguous, m points, Mandel notation):
 *   eps, deps      (m, 6)  total strain at the start, its increment
 *   eth            (m, 6)  thermal strain at T_new, or NULL
 *   st0, st1       (m, ns) state p (1), eps_p (6), alpha_1 ... alpha_nk (6 each), old / new
 *   par            (m, np) per-point parameters at T_new, columns
 *                  G, Kb, R0, H, (Q_j, b_j) x nv, (C_i, D_i) x nk, K, n   (K, n unused when not viscous)
 *   stress (m, 6), tangent (m, 36) or NULL, failed (m) bytes
 *   parts  (m, 14) or NULL: the tangent's structure, C = Kb J + cdev D + u (x) n (J: ones on the normal
 *          3x3 block; D: the deviatoric projector there, identity on the shears), as Kb, cdev, u (6), n (6)
 * flags: viscous (Norton-type ds_v = K (dp/dt)^(1/n), unknown s_v), linear (closed-form radial return).
 */
#include <math.h>
#include <string.h>

#define MAXT 16 /* at most this many Voce or kinematic terms (checked by the caller) */

typedef struct {
    int nv, nk, viscous;
    double dt;
    const double *P; /* this point's parameters */
    const double *s_tr, *Xt; /* (6), (nk, 6) */
    double p_n;
} point_t;

typedef struct {
    double F, dF, dp, dp_x, J, Js, n[6], w[6], a[MAXT];
} resid_t;

/* residual of the point at x (dp, or s_v when viscous), as VonMises._residual(full=True) */
static void residual(const point_t *q, double x, resid_t *r)
{
    const double *P = q->P;
    const double G = P[0], R0 = P[2], H = P[3];
    const double *QB = P + 4, *CD = P + 4 + 2 * q->nv;
    double dp, dp_x;
    if (q->viscous) {
        const double K = CD[2 * q->nk], nn = CD[2 * q->nk + 1];
        const double vK = x / K;
        if (x == 0.0 && nn > 1.0) {       /* the trial state: pow(0, n) = pow(0, n - 1) = 0, no call */
            dp = 0.0;
            dp_x = 0.0;
        } else if (vK > 0 && isfinite(vK)) {     /* one pow: dp = dt vK^n, dp_x = n dt vK^(n-1) / K */
            const double pw = pow(vK, nn - 1.0);
            dp = q->dt * (pw * vK);
            dp_x = nn * q->dt * pw / K;
        } else {
            dp = q->dt * pow(vK, nn);
            dp_x = nn * q->dt * pow(vK, nn - 1.0) / K;
        }
    } else {
        dp = x;
        dp_x = 1.0;
    }
    double xi[6], w[6] = {0, 0, 0, 0, 0, 0};
    memcpy(xi, q->s_tr, sizeof xi);
    double h = 3.0 * G, hp = 0.0;
    for (int i = 0; i < q->nk; i++) {
        const double Ci = CD[2 * i], Di = CD[2 * i + 1];
        const double a = 1.0 / (1.0 + Di * dp);
        const double *Xti = q->Xt + 6 * i;
        r->a[i] = a;
        for (int k = 0; k < 6; k++) xi[k] -= a * Xti[k];
        h += Ci * a;
        if (Di != 0.0) {
            for (int k = 0; k < 6; k++) w[k] += Di * a * a * Xti[k];
            hp -= Ci * Di * a * a;
        }
    }
    double ss = 0.0;
    for (int k = 0; k < 6; k++) ss += xi[k] * xi[k];
    const double J = sqrt(1.5 * ss);
    const double Js = J > 0 ? J : 1.0;
    double nw = 0.0;
    for (int k = 0; k < 6; k++) {
        r->n[k] = (1.5 / Js) * xi[k];
        r->w[k] = w[k];
        nw += r->n[k] * w[k];
    }
    const double p = q->p_n + dp;
    double R = R0 + H * p, Rp = H;
    for (int j = 0; j < q->nv; j++) {
        const double Q = QB[2 * j], b = QB[2 * j + 1];
        const double ex = exp(-b * p);
        R += Q * (1.0 - ex);
        Rp += Q * b * ex;
    }
    const double dF_ddp = nw - h - hp * dp - Rp;
    double F = J - h * dp - R, dF = dF_ddp;
    if (q->viscous) {
        F -= x;
        dF = dF_ddp * dp_x - 1.0;
    }
    r->F = F;
    r->dF = dF;
    r->dp = dp;
    r->dp_x = dp_x;
    r->J = J;
    r->Js = Js;
}

/* solve_decreasing of newton.py for one point; returns 1 when converged */
static int solve(const point_t *q, double *x, double tol, int maxit)
{
    double lo = 0.0, hi = INFINITY, xa = *x;
    resid_t r;
    for (int it = 1; it <= maxit; it++) {
        residual(q, xa, &r);
        const double F = r.F, dF = r.dF;
        const int ok = fabs(F) <= tol;
        if (F > 0) lo = xa; else hi = xa;
        double xn = xa - F / dF;
        const int bad = !isfinite(xn) || !(dF < 0) || xn <= lo || xn >= hi;
        if (bad) xn = isfinite(hi) ? 0.5 * (lo + hi) : 2.0 * (xa > lo ? xa : lo);
        const int tiny = fabs(xn - xa) <= 1e-15 * fabs(xa) && fabs(F) <= 1e3 * tol;
        if (ok || tiny) {
            *x = xa;
            return 1;
        }
        xa = xn;
    }
    *x = xa;
    return 0;
}

void dromo_vonmises_update(long m, int nv, int nk, int viscous, int linear, double dt, double rtol, int maxit,
                           const double *eps, const double *deps, const double *eth, const double *st0,
                           long ns, const double *par, long np, double *stress, double *st1, double *tangent,
                           unsigned char *failed, double *parts)
{
    static const double idev[3][3] = {{2.0 / 3, -1.0 / 3, -1.0 / 3},
                                      {-1.0 / 3, 2.0 / 3, -1.0 / 3},
                                      {-1.0 / 3, -1.0 / 3, 2.0 / 3}};
    for (long i = 0; i < m; i++) {
        const double *P = par + i * np, *s0 = st0 + i * ns;
        double *s1 = st1 + i * ns, *sig = stress + 6 * i;
        const double G = P[0], Kb = P[1], R0 = P[2];
        const double *CD = P + 4 + 2 * nv;
        double e[6], s_tr[6], Xt[6 * MAXT];
        for (int k = 0; k < 6; k++) {
            e[k] = eps[6 * i + k] + deps[6 * i + k];
            e[k] -= s0[1 + k];
            if (eth) e[k] -= eth[6 * i + k];
        }
        const double tr = e[0] + e[1] + e[2];
        const double G2 = 2.0 * G;
        double ss = 0.0;
        for (int k = 0; k < 6; k++) {
            s_tr[k] = e[k] * G2;
            if (k < 3) s_tr[k] -= G2 * (tr / 3.0);
            ss += s_tr[k] * s_tr[k];
        }
        for (int j = 0; j < nk; j++)
            for (int k = 0; k < 6; k++) Xt[6 * j + k] = (2.0 / 3.0 * CD[2 * j]) * s0[7 + 6 * j + k];
        point_t q = {nv, nk, viscous, dt, P, s_tr, Xt, s0[0]};
        resid_t r;
        residual(&q, 0.0, &r);
        const double F0 = r.F;
        const double scale = sqrt(1.5 * ss) + fabs(R0) + 1.0e-12;
        int plastic = F0 > 1e-13 * scale;
        double K = 0.0, nn = 1.0;
        if (viscous) {
            K = CD[2 * nk];
            nn = CD[2 * nk + 1];
            plastic = plastic && isfinite(K) && dt > 0;
        }
        double x = 0.0;
        int conv = 1;
        if (plastic) {
            if (linear) {
                double hsum = 3.0 * G + P[3];
                for (int j = 0; j < nk; j++) hsum += CD[2 * j];
                x = F0 / hsum;
            } else {
                if (viscous) {
                    const double xb = K * pow(F0 / (3.0 * G * dt), 1.0 / nn);
                    x = F0 < xb ? F0 : xb;
                }
                conv = solve(&q, &x, rtol * scale, maxit);
            }
        }
        failed[i] = !conv;
        if (plastic) residual(&q, x, &r); /* elastic: r is already the residual at x = 0 */
        const double dp = r.dp;
        /* stress and state */
        for (int k = 0; k < 6; k++) sig[k] = r.n[k] * (-G2 * dp) + s_tr[k];
        for (int k = 0; k < 3; k++) sig[k] += Kb * tr;
        s1[0] = s0[0] + dp;
        double dep[6];
        for (int k = 0; k < 6; k++) {
            dep[k] = dp * r.n[k];
            s1[1 + k] = s0[1 + k] + dep[k];
        }
        for (int j = 0; j < nk; j++)
            for (int k = 0; k < 6; k++) s1[7 + 6 * j + k] = r.a[j] * (s0[7 + 6 * j + k] + dep[k]);
        /* consistent tangent: Ce - a2 Idev + (c_nn n + c_w w) (x) n */
        double gam = 0.0;
        if (dp > 0) gam = viscous ? r.dp_x / (-r.dF) : 1.0 / (-r.dF);
        if (!isfinite(gam)) gam = 0.0;
        const double a2 = 1.5 * G2 * G2 * dp / r.Js;
        const double c_nn = -G2 * G2 * gam + (2.0 / 3.0) * a2;
        const double c_w = -a2 * gam;
        double nw = 0.0;
        for (int k = 0; k < 6; k++) nw += r.n[k] * r.w[k];
        double u[6];
        for (int k = 0; k < 6; k++) {
            u[k] = c_nn * r.n[k];
            u[k] += c_w * r.w[k];
            u[k] -= c_w * (2.0 / 3.0) * nw * r.n[k];
        }
        const double cdev = G2 - a2;
        if (parts) {
            double *Q = parts + 14 * i;
            Q[0] = Kb;
            Q[1] = cdev;
            for (int k = 0; k < 6; k++) {
                Q[2 + k] = u[k];
                Q[8 + k] = r.n[k];
            }
        }
        if (!tangent) continue;
        double *T = tangent + 36 * i;
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++) T[6 * a + b] = u[a] * r.n[b];
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) T[6 * a + b] += Kb + cdev * idev[a][b];
        for (int k = 3; k < 6; k++) T[7 * k] += cdev;
    }
}
