"""Rule encode_queries: OmniEmbed embeddings of one query split."""

import logging

from rankvideo.files.embeddings import write_embeddings
from rankvideo.files.queries import read_queries
from rankvideo.files.settings import from_record
from rankvideo.retrieve.omniembed import OmniEmbedEncoder, encoder_record
from rankvideo.retrieve.settings import OmniEmbedSettings
from rankvideo.workflow.scripts import run_script


def main(sm) -> None:
    p = sm.params
    settings = from_record(OmniEmbedSettings, p.settings)
    queries = read_queries(sm.input.queries)
    encoder = OmniEmbedEncoder(p.encoder["model"], p.encoder["adapter"], p.encoder["processor"], settings)
    vectors = encoder.encode_queries([queries[q] for q in queries])
    logging.info("%d queries encoded", len(queries))
    write_embeddings(sm.output[0], list(queries), vectors, encoder_record(p.encoder, settings, None, p.code))


run_script(main, snakemake)  # noqa: F821
