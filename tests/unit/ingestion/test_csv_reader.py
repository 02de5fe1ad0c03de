from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from condolake.errors import InputError
from condolake.ingestion.csv_reader import (
    MALFORMED_ROW,
    UNDECODABLE,
    CsvOptions,
    MalformedLine,
    read_csv,
    write_csv,
)
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES


def write_bytes(tmp_path: Path, content: bytes, name: str = "imoveis.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def write_text(tmp_path: Path, content: str, name: str = "imoveis.csv") -> Path:
    return write_bytes(tmp_path, content.encode("utf-8"), name)


def test_utf8_comma_file_with_plain_decimals(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "imovel_id,tipo,condominio_id,valor\n1,apartamento,10,350000.00\n2,casa,11,-12.5\n",
    )

    result = read_csv(path, IMOVEIS)

    assert (result.file, result.encoding, result.delimiter, result.decimal) == (
        "imoveis.csv",
        "utf-8",
        ",",
        ".",
    )
    assert [(record.line, record.values) for record in result.records] == [
        (2, {"imovel_id": "1", "tipo": "apartamento", "condominio_id": "10", "valor": "350000.00"}),
        (3, {"imovel_id": "2", "tipo": "casa", "condominio_id": "11", "valor": "-12.5"}),
    ]
    assert result.malformed == []


def test_latin1_semicolon_file_with_brazilian_decimals_and_accents(tmp_path: Path) -> None:
    content = (
        "imovel_id;tipo;condominio_id;valor\r\n"
        "1;Condomínio São João;10;1.234,56\r\n"
        "2;Açaí;11;-12,5\r\n"
        "3;loja;12;1.234.567,89\r\n"
    )
    path = write_bytes(tmp_path, content.encode("latin-1"))

    result = read_csv(path, IMOVEIS)

    assert (result.encoding, result.delimiter, result.decimal) == ("latin-1", ";", ",")
    assert [(r.values["tipo"], r.values["valor"]) for r in result.records] == [
        ("Condomínio São João", "1234.56"),
        ("Açaí", "-12.5"),
        ("loja", "1234567.89"),
    ]


def test_utf8_with_byte_order_mark_is_read_and_reported(tmp_path: Path) -> None:
    path = write_bytes(
        tmp_path, "\ufeffimovel_id,tipo,condominio_id,valor\n1,Açaí,1,9.90\n".encode()
    )

    result = read_csv(path, IMOVEIS)

    assert result.encoding == "utf-8-sig"
    assert result.records[0].values == {
        "imovel_id": "1",
        "tipo": "Açaí",
        "condominio_id": "1",
        "valor": "9.90",
    }


def test_header_in_another_order_with_extra_column_and_odd_case(tmp_path: Path) -> None:
    path = write_text(tmp_path, " VALOR |extra|Tipo|condominio_id|imovel_id\n10.00|x|casa|3|7\n")

    result = read_csv(path, IMOVEIS)

    assert result.delimiter == "|"
    assert result.records[0].values == {
        "imovel_id": "7",
        "tipo": "casa",
        "condominio_id": "3",
        "valor": "10.00",
    }


def test_missing_header_column_names_file_and_column(tmp_path: Path) -> None:
    path = write_text(tmp_path, "imovel_id,tipo,valor\n1,casa,10.00\n")

    with pytest.raises(InputError, match=r"imoveis\.csv.*condominio_id"):
        read_csv(path, IMOVEIS)


def test_without_header_the_table_column_order_is_assumed(tmp_path: Path) -> None:
    path = write_text(tmp_path, "1;casa;10;99,90\n2;apto;10;100,00\n")

    result = read_csv(path, IMOVEIS, CsvOptions(header=False))

    assert result.delimiter == ";"
    assert [(r.line, r.values["valor"]) for r in result.records] == [(1, "99.90"), (2, "100.00")]


def test_three_malformed_lines_among_good_ones(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "imovel_id,tipo,condominio_id,valor\n"  # line 1
        "1,casa,10,100.00\n"  # 2
        "2,apto,10,200.00,extra\n"  # 3: too many fields
        "\n"  # 4: blank, skipped
        "3,casa,11\n"  # 5: too few fields
        '4,"loja,11,400.00\n'  # 6: unclosed quote swallows the lines after it
        "5,casa,12,500.00\n"  # 7
        "6,apto,12,600.00\n",  # 8
    )

    result = read_csv(path, IMOVEIS)

    assert [(r.line, r.values["imovel_id"]) for r in result.records] == [
        (2, "1"),
        (7, "5"),
        (8, "6"),
    ]
    assert [(m.line, m.reason, m.raw) for m in result.malformed] == [
        (3, MALFORMED_ROW, "2,apto,10,200.00,extra"),
        (5, MALFORMED_ROW, "3,casa,11"),
        (6, MALFORMED_ROW, '4,"loja,11,400.00'),
    ]
    assert result.malformed[0].detail == "expected 4 fields, found 5"
    assert result.malformed[1].detail == "expected 4 fields, found 3"
    assert result.malformed[2].detail.startswith("expected 4 fields, found 2")


def test_quoted_newline_keeps_line_numbers_of_later_records(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "imovel_id,tipo,condominio_id,valor\r\n"
        '1,"casa\r\ncom quintal",10,100.00\r\n'
        "2,apto,10,200.00\r\n"
        "\r\n"
        "3,loja,11,300.00",  # no newline at the end
    )

    result = read_csv(path, IMOVEIS)

    assert [(r.line, r.values["imovel_id"]) for r in result.records] == [
        (2, "1"),
        (4, "2"),
        (6, "3"),
    ]
    assert result.records[0].values["tipo"] == "casa\r\ncom quintal"
    assert result.malformed == []


def test_unparsable_money_is_kept_raw(tmp_path: Path) -> None:
    path = write_text(
        tmp_path, "imovel_id;tipo;condominio_id;valor\n1;casa;1;12,3,4\n2;apto;1;1.234,56\n"
    )

    result = read_csv(path, IMOVEIS)

    assert result.decimal == ","
    assert [r.values["valor"] for r in result.records] == ["12,3,4", "1234.56"]


def test_dates_iso_kept_brazilian_converted_impossible_kept_raw(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "morador_id,nome,condominio_id,data_registro\n"
        "1,Ana,1,2024-03-15\n"
        "2,Bia,1, 15/03/2024 \n"
        "3,Caio,1,31/02/2024\n"
        "4,Davi,1,\n",
    )

    result = read_csv(path, MORADORES)

    assert [r.values["data_registro"] for r in result.records] == [
        "2024-03-15",
        "2024-03-15",
        "31/02/2024",
        None,
    ]


def test_text_keeps_whitespace_numbers_are_stripped_empty_is_none(tmp_path: Path) -> None:
    path = write_text(tmp_path, "imovel_id,tipo,condominio_id,valor\n 1 ,  casa ,, 10.00 \n")

    assert read_csv(path, IMOVEIS).records[0].values == {
        "imovel_id": "1",
        "tipo": "  casa ",
        "condominio_id": None,
        "valor": "10.00",
    }


def test_forced_encoding_rejects_only_undecodable_rows(tmp_path: Path) -> None:
    content = b"condominio_id,nome,endereco\n1,Aurora,Rua A\n2,S\xe3o Jo\xe3o,Rua B\n3,Sol,Rua C\n"
    path = write_bytes(tmp_path, content, "condominios.csv")

    result = read_csv(path, CONDOMINIOS, CsvOptions(encoding="utf-8"))

    assert [r.values["nome"] for r in result.records] == ["Aurora", "Sol"]
    assert result.malformed == [
        MalformedLine(3, "2,S\\xe3o Jo\\xe3o,Rua B", UNDECODABLE, "bytes not valid in utf-8")
    ]


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"", CsvOptions(), "empty"),
        (b"\n \n", CsvOptions(), "empty"),
        (b",,,\n1,casa,1,1.00\n", CsvOptions(), "no usable header"),
        (b"imovel_id,tipo,condominio_id,valor\n", CsvOptions(encoding="no-such"), "encoding"),
    ],
)
def test_unusable_files_raise_input_error(
    tmp_path: Path, content: bytes, options: CsvOptions, message: str
) -> None:
    path = write_bytes(tmp_path, content)

    with pytest.raises(InputError, match=rf"imoveis\.csv.*{message}"):
        read_csv(path, IMOVEIS, options)


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"imoveis\.csv does not exist"):
        read_csv(tmp_path / "imoveis.csv", IMOVEIS)


def test_round_trip_in_brazilian_style(tmp_path: Path) -> None:
    path = tmp_path / "moradores.csv"
    rows = [
        {
            "morador_id": 1,
            "nome": "João Açaí",
            "condominio_id": 7,
            "data_registro": date(2024, 1, 31),
        },
        {"morador_id": 2, "nome": "Ana", "condominio_id": 7, "data_registro": None},
    ]
    imoveis_path = tmp_path / "imoveis.csv"
    imoveis = [
        {"imovel_id": 1, "tipo": "casa", "condominio_id": 7, "valor": Decimal("1234567.89")},
        {
            "imovel_id": 2,
            "tipo": "Condomínio São João",
            "condominio_id": 7,
            "valor": Decimal("-0.5"),
        },
    ]

    write_csv(path, MORADORES, rows, delimiter=";", encoding="latin-1", decimal=",")
    write_csv(imoveis_path, IMOVEIS, imoveis, delimiter=";", encoding="latin-1", decimal=",")
    moradores_result = read_csv(path, MORADORES)
    imoveis_result = read_csv(imoveis_path, IMOVEIS)

    assert "1.234.567,89" in imoveis_path.read_text(encoding="latin-1")
    assert (imoveis_result.encoding, imoveis_result.delimiter, imoveis_result.decimal) == (
        "latin-1",
        ";",
        ",",
    )
    assert [r.values for r in imoveis_result.records] == [
        {"imovel_id": "1", "tipo": "casa", "condominio_id": "7", "valor": "1234567.89"},
        {"imovel_id": "2", "tipo": "Condomínio São João", "condominio_id": "7", "valor": "-0.5"},
    ]
    assert [r.values for r in moradores_result.records] == [
        {
            "morador_id": "1",
            "nome": "João Açaí",
            "condominio_id": "7",
            "data_registro": "2024-01-31",
        },
        {"morador_id": "2", "nome": "Ana", "condominio_id": "7", "data_registro": None},
    ]
