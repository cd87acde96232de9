#!/usr/bin/env python3
"""Convert the Palmer penguins data (CC0) to data/penguins.parquet, once.

Source: the `palmerpenguins` PyPI package (data/penguins.csv: Horst, Hill & Gorman,
https://allisonhorst.github.io/palmerpenguins/, CC0). Usage:
    pip install palmerpenguins pyarrow && python3 scripts/make_penguins.py
"""
import importlib.resources

import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("species", pa.string()),
        ("island", pa.string()),
        ("bill_length_mm", pa.float64()),
        ("bill_depth_mm", pa.float64()),
        ("flipper_length_mm", pa.int64()),
        ("body_mass_g", pa.int64()),
        ("sex", pa.string()),
        ("year", pa.int64()),
    ]
)

src = importlib.resources.files("palmerpenguins") / "data" / "penguins.csv"
with importlib.resources.as_file(src) as path:
    table = csv.read_csv(
        path,
        convert_options=csv.ConvertOptions(
            column_types=SCHEMA, null_values=["NA", ""], strings_can_be_null=True
        ),
    )
table = table.select(SCHEMA.names).cast(SCHEMA)
pq.write_table(table, "data/penguins.parquet", compression="zstd")
print(f"wrote data/penguins.parquet: {table.num_rows} rows")
