"""The small numpy detector of ``jetprof generate``: visible final-state particles ->
reconstructed candidates.

Charged particles inside the tracker acceptance are tracked with an efficiency and
smeared in pT, with straight-line impact parameters smeared by their resolution;
photons and untracked electrons deposit in ECAL towers, neutral and untracked charged
hadrons in HCAL towers, each tower's energy smeared; untracked muons are lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DetectorSettings:
    """The numpy detector. Lengths in mm, energies in GeV.

    Attributes:
        track_abs_eta_max: tracker acceptance.
        track_pt_min: lowest reconstructed track pT.
        track_eff_low: tracking efficiency below 1 GeV.
        track_eff_high: tracking efficiency at and above 1 GeV.
        track_pt_res_const: constant term of the relative pT resolution.
        track_pt_res_slope: term proportional to pT (per GeV).
        calo_abs_eta_max: calorimeter acceptance.
        ecal_cell: ECAL tower size in eta and phi.
        hcal_cell: HCAL tower size in eta and phi.
        ecal_stoch, ecal_const: ECAL resolution sigma/E = stoch/sqrt(E) (+) const.
        hcal_stoch, hcal_const: HCAL resolution, same form.
        ecal_pt_min: lowest photon-tower pT.
        hcal_pt_min: lowest neutral-hadron-tower pT.
        d0_res_const, d0_res_msc: sigma(d0) = const (+) msc * sqrt(cosh eta) / pT.
        dz_res_const, dz_res_msc: sigma(dz) = const (+) msc * cosh(eta)^1.5 / pT.
    """

    track_abs_eta_max: float = 2.5
    track_pt_min: float = 0.5
    track_eff_low: float = 0.85
    track_eff_high: float = 0.95
    track_pt_res_const: float = 0.01
    track_pt_res_slope: float = 2e-4
    calo_abs_eta_max: float = 3.0
    ecal_cell: float = 0.0174
    hcal_cell: float = 0.087
    ecal_stoch: float = 0.05
    ecal_const: float = 0.005
    hcal_stoch: float = 1.0
    hcal_const: float = 0.05
    ecal_pt_min: float = 0.5
    hcal_pt_min: float = 1.0
    d0_res_const: float = 0.010
    d0_res_msc: float = 0.030
    dz_res_const: float = 0.020
    dz_res_msc: float = 0.050



def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuthal angles wrapped into [-pi, pi)."""
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _towers(
    cell: float, ev: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray,
    stoch: float, const: float, pt_min: float, rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Sum deposits per (event, eta cell, phi cell); smear; massless towers.

    Returns:
        event index, px, py, pz, e of the towers above ``pt_min``.
    """
    if len(e) == 0:
        z = np.zeros(0)
        return np.zeros(0, np.int64), z, z, z, z
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    phi = np.arctan2(py, px)
    nphi = round(2 * np.pi / cell)
    ieta = np.floor(eta / cell).astype(np.int64)
    iphi = np.floor((phi + np.pi) / (2 * np.pi) * nphi).astype(np.int64) % nphi
    key = np.stack([ev, ieta, iphi], axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    n = len(uniq)
    sx, sy, sz, se = (np.bincount(inv, weights=w, minlength=n).astype(np.float64) for w in (px, py, pz, e))
    sigma = np.hypot(stoch / np.sqrt(np.maximum(se, 1e-9)), const)
    se = se * (1.0 + sigma * rng.standard_normal(n))
    p = np.sqrt(sx**2 + sy**2 + sz**2)
    scale = np.where(p > 0, se / np.maximum(p, 1e-12), 0.0)
    tx, ty, tz = sx * scale, sy * scale, sz * scale
    keep = (se > 0) & (np.hypot(tx, ty) > pt_min)
    return uniq[keep, 0], tx[keep], ty[keep], tz[keep], se[keep]


def detector(particles: np.ndarray, event: np.ndarray, det: DetectorSettings,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Turn visible final-state particles into reconstructed candidates.

    Args:
        particles: (n, 9) rows from all events of a batch (see ``_final_state``).
        event: (n,) event index of each row.
        det: detector settings.
        rng: the file's numpy generator.

    Returns:
        flat candidate arrays (``event``, ``px``...``e``, ``charge``, ``pid`` class
        flags, ``d0val``, ``d0err``, ``dzval``, ``dzerr``), ordered by event.
    """
    px, py, pz, e, pid, charge, x, y, z = particles.T
    apid = np.abs(pid).astype(np.int64)
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    n = len(px)

    charged = charge != 0
    in_tracker = charged & (np.abs(eta) < det.track_abs_eta_max) & (pt > det.track_pt_min)
    eff = np.where(pt < 1.0, det.track_eff_low, det.track_eff_high)
    tracked = in_tracker & (rng.random(n) < eff)

    # tracks: smeared pT, straight-line impact parameters
    t = tracked
    tpt = pt[t]
    res = np.hypot(det.track_pt_res_const, det.track_pt_res_slope * tpt)
    k = np.maximum(1.0 + res * rng.standard_normal(len(tpt)), 0.05)
    mass2 = np.maximum(e[t] ** 2 - (px[t] ** 2 + py[t] ** 2 + pz[t] ** 2), 0.0)
    tpx, tpy, tpz = px[t] * k, py[t] * k, pz[t] * k
    te = np.sqrt(tpx**2 + tpy**2 + tpz**2 + mass2)
    d0 = (x[t] * py[t] - y[t] * px[t]) / tpt
    dz = z[t] - (x[t] * px[t] + y[t] * py[t]) / tpt * (pz[t] / tpt)
    ch = np.cosh(eta[t])
    d0err = np.hypot(det.d0_res_const, det.d0_res_msc * np.sqrt(ch) / tpt)
    dzerr = np.hypot(det.dz_res_const, det.dz_res_msc * ch**1.5 / tpt)
    d0 = d0 + d0err * rng.standard_normal(len(tpt))
    dz = dz + dzerr * rng.standard_normal(len(tpt))

    # calorimeters: photons and untracked electrons in ECAL; neutral and
    # untracked charged hadrons in HCAL; muons are lost when untracked
    in_calo = ~tracked & (np.abs(eta) < det.calo_abs_eta_max)
    to_ecal = in_calo & ((apid == 22) | (apid == 11))
    to_hcal = in_calo & ~to_ecal & (apid != 13)
    ecal = _towers(det.ecal_cell, event[to_ecal], px[to_ecal], py[to_ecal], pz[to_ecal], e[to_ecal],
                   det.ecal_stoch, det.ecal_const, det.ecal_pt_min, rng)
    hcal = _towers(det.hcal_cell, event[to_hcal], px[to_hcal], py[to_hcal], pz[to_hcal], e[to_hcal],
                   det.hcal_stoch, det.hcal_const, det.hcal_pt_min, rng)

    nt, ne, nh = int(t.sum()), len(ecal[0]), len(hcal[0])
    zeros_c = np.zeros(ne + nh)
    out = {
        "event": np.concatenate([event[t], ecal[0], hcal[0]]),
        "px": np.concatenate([tpx, ecal[1], hcal[1]]),
        "py": np.concatenate([tpy, ecal[2], hcal[2]]),
        "pz": np.concatenate([tpz, ecal[3], hcal[3]]),
        "e": np.concatenate([te, ecal[4], hcal[4]]),
        "charge": np.concatenate([charge[t], zeros_c]),
        "isChargedHadron": np.concatenate([(apid[t] != 11) & (apid[t] != 13), np.zeros(ne + nh, bool)]),
        "isNeutralHadron": np.concatenate([np.zeros(nt + ne, bool), np.ones(nh, bool)]),
        "isPhoton": np.concatenate([np.zeros(nt, bool), np.ones(ne, bool), np.zeros(nh, bool)]),
        "isElectron": np.concatenate([apid[t] == 11, np.zeros(ne + nh, bool)]),
        "isMuon": np.concatenate([apid[t] == 13, np.zeros(ne + nh, bool)]),
        "d0val": np.concatenate([d0, zeros_c]),
        "d0err": np.concatenate([d0err, zeros_c]),
        "dzval": np.concatenate([dz, zeros_c]),
        "dzerr": np.concatenate([dzerr, zeros_c]),
    }
    order = np.argsort(out["event"], kind="stable")
    return {k: v[order] for k, v in out.items()}
