/* dromo's point loop around a user's Abaqus-convention UMAT (compiled on first use, see umat.py).
 *
 * The user's library exports only `umat_`; calling it once per point from Python costs a few µs per
 * point. This driver receives the function pointer and the contiguous per-point arrays and loops in C.
 * Per-point arrays: stress (n,6), statev (n,nstatv_stride), ddsdde (n,36), stran/dstran (n,6),
 * temp/dtemp/pnewdt (n), noel (n). Scalars shared by all points are reset before every call.
 */
#include <stddef.h>
#include <string.h>

typedef void (*umat_fn)(double *stress, double *statev, double *ddsdde, double *sse, double *spd,
                        double *scd, double *rpl, double *ddsddt, double *drplde, double *drpldt,
                        double *stran, double *dstran, double *time, double *dtime, double *temp,
                        double *dtemp, double *predef, double *dpred, char *cmname, int *ndi, int *nshr,
                        int *ntens, int *nstatv, double *props, int *nprops, double *coords,
                        double *drot, double *pnewdt, double *celent, double *dfgrd0, double *dfgrd1,
                        int *noel, int *npt, int *layer, int *kspt, int *kstep, int *kinc,
                        size_t cmname_len);

void dromo_umat_loop(void *fptr, long n, double *stress, double *statev, long statev_stride,
                     double *ddsdde, double *stran, double *dstran, double *temp, double *dtemp,
                     double *pnewdt, int *noel, double time, double dt, int nstatv, double *props,
                     int nprops, char *cmname)
{
    umat_fn f = (umat_fn)fptr;
    int ndi = 3, nshr = 3, ntens = 6, npt = 1, layer = 1, kspt = 1, kstep = 1, kinc = 1;
    int nst = nstatv > 0 ? nstatv : 1, npr = nprops;
    double eye[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (long i = 0; i < n; ++i) {
        double sse = 0, spd = 0, scd = 0, rpl = 0, drpldt = 0, predef = 0, dpred = 0, celent = 1.0;
        double ddsddt[6] = {0}, drplde[6] = {0}, coords[3] = {0};
        double tm[2] = {time, time}, dtime = dt;
        double drot[9], f0[9], f1[9];
        memcpy(drot, eye, sizeof eye); memcpy(f0, eye, sizeof eye); memcpy(f1, eye, sizeof eye);
        f(stress + 6 * i, statev + statev_stride * i, ddsdde + 36 * i, &sse, &spd, &scd, &rpl, ddsddt,
          drplde, &drpldt, stran + 6 * i, dstran + 6 * i, tm, &dtime, temp + i, dtemp + i, &predef,
          &dpred, cmname, &ndi, &nshr, &ntens, &nst, props, &npr, coords, drot, pnewdt + i, &celent,
          f0, f1, noel + i, &npt, &layer, &kspt, &kstep, &kinc, 80);
    }
}
