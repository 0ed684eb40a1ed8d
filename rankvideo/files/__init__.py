"""Every file that passes between pipeline stages, one module per contract, plus video decoding and atomic writes.

Every reader raises FormatError naming the file and line, so a bad input is fixed at its source
instead of silently shifting scores onto the wrong query (upstream defect 2).
"""
