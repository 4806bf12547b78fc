/* Test UMAT (Abaqus calling convention, symbol umat_): von Mises, isotropic elasticity,
 * linear isotropic hardening R = R0 + H p, Prager kinematic hardening dX = 2/3 C deps_p,
 * rate-independent (K <= 0) or Norton overstress  dp/dt = <f/K>^n  (backward Euler, local Newton).
 *
 * PROPS  = E, nu, R0, H, C, K, n
 * STATEV = p, eps_p (6, engineering shear), X (6, tensor components)          NSTATV = 13
 * STRESS, STRAN, DSTRAN, DDSDDE: Abaqus conventions (order 11 22 33 12 13 23, engineering shear
 * strain, DDSDDE(I,J) column-major = dDSIGMA_I / dDEPS_J).  Internally Mandel notation.
 * It is the same law as dromo's built-in
 *   {"type": "von_mises", "E", "nu", "R0", "H", "kinematic": [{"C": C}], "flow": norton(K, n)}.
 */
#include <math.h>

void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd, double *scd,
           double *rpl, double *ddsddt, double *drplde, double *drpldt,
           const double *stran, const double *dstran, const double *time, const double *dtime,
           const double *temp, const double *dtemp, const double *predef, const double *dpred,
           const char *cmname, const int *ndi, const int *nshr, const int *ntens, const int *nstatv,
           const double *props, const int *nprops, const double *coords, const double *drot,
           double *pnewdt, const double *celent, const double *dfgrd0, const double *dfgrd1,
           const int *noel, const int *npt, const int *layer, const int *kspt, const int *kstep,
           const int *kinc, long cmname_len)
{
    const double r2 = sqrt(2.0);
    const double w[6] = {1.0, 1.0, 1.0, r2, r2, r2};
    const double E = props[0], nu = props[1], R0 = props[2], H = props[3], C = props[4];
    const double K = props[5], n = props[6];
    const double G = E / (2.0 * (1.0 + nu)), Kb = E / (3.0 * (1.0 - 2.0 * nu));
    double ee[6], ep[6], X[6], s[6], xi[6], nv[6], sig[6];
    double p = statev[0], tr, J, f, dp = 0.0, gam = 0.0;
    int i, j, it;

    for (i = 0; i < 6; i++) {
        double e = (stran[i] + dstran[i]) / (i < 3 ? 1.0 : r2);      /* engineering -> Mandel */
        ep[i] = statev[1 + i] / (i < 3 ? 1.0 : r2);
        X[i] = statev[7 + i] * w[i];                                  /* tensor -> Mandel */
        ee[i] = e - ep[i];
    }
    tr = ee[0] + ee[1] + ee[2];
    for (i = 0; i < 6; i++) s[i] = 2.0 * G * (ee[i] - (i < 3 ? tr / 3.0 : 0.0));
    J = 0.0;
    for (i = 0; i < 6; i++) { xi[i] = s[i] - X[i]; J += xi[i] * xi[i]; }
    J = sqrt(1.5 * J);
    f = J - (R0 + H * p);
    if (f > 1e-13 * (J + R0 + 1e-12)) {
        const double h = 3.0 * G + C + H;
        if (K <= 0.0) {
            dp = f / h;
            gam = 1.0 / h;
        } else if (*dtime > 0.0) {
            double v = f, vb = K * pow(f / (h * *dtime), 1.0 / n), F, dF, dpv;
            int ok = 0;
            if (vb < v) v = vb;
            for (it = 0; it < 100; it++) {
                dp = *dtime * pow(v / K, n);
                dpv = n * *dtime * pow(v / K, n - 1.0) / K;
                F = f - h * dp - v;
                dF = -h * dpv - 1.0;
                if (fabs(F) <= 1e-11 * (J + R0 + 1e-12)) { ok = 1; break; }
                v -= F / dF;
                if (v < 0.0) v = 0.0;
            }
            if (!ok) *pnewdt = 0.25;
            dp = *dtime * pow(v / K, n);
            dpv = n * *dtime * pow(v / K, n - 1.0) / K;
            gam = dpv / (h * dpv + 1.0);
        }
    }
    for (i = 0; i < 6; i++) nv[i] = (J > 0.0) ? 1.5 * xi[i] / J : 0.0;
    for (i = 0; i < 6; i++) {
        sig[i] = s[i] - 2.0 * G * dp * nv[i] + (i < 3 ? Kb * tr : 0.0);
        ep[i] += dp * nv[i];
        X[i] += 2.0 / 3.0 * C * dp * nv[i];
    }
    statev[0] = p + dp;
    for (i = 0; i < 6; i++) {
        stress[i] = sig[i] / w[i];
        statev[1 + i] = ep[i] * (i < 3 ? 1.0 : r2);
        statev[7 + i] = X[i] / w[i];
    }
    {
        const double a2 = (dp > 0.0) ? 6.0 * G * G * dp / J : 0.0;
        const double cnn = -4.0 * G * G * gam + 2.0 / 3.0 * a2;
        for (i = 0; i < 6; i++)
            for (j = 0; j < 6; j++) {
                double idev = (i == j ? 1.0 : 0.0) - ((i < 3 && j < 3) ? 1.0 / 3.0 : 0.0);
                double ct = ((i < 3 && j < 3) ? Kb : 0.0) + (2.0 * G - a2) * idev + cnn * nv[i] * nv[j];
                ddsdde[j * 6 + i] = ct / (w[i] * w[j]);
            }
    }
}
