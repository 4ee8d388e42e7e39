from custos.domain import bookformat, codes


def test_chinese_labels_and_english_codes_map_to_the_same_code():
    assert codes.to_code("channel", "银保") == "bancassurance"
    assert codes.to_code("channel", "bancassurance") == "bancassurance"
    assert codes.to_code("relation", "外祖父") == "grandfather"
    assert codes.to_code("gender", "女") == "F"
    assert codes.to_code("channel", "bank") is None


def test_every_coded_column_names_an_existing_code_list():
    for table in bookformat.TABLES.values():
        for column in table.columns:
            if column.codes:
                assert column.codes in codes.LOOKUPS, (table.name, column.name)


def test_references_point_to_tables_loaded_earlier_or_to_themselves():
    order = bookformat.LOAD_ORDER
    for name, table in bookformat.TABLES.items():
        for _col, target, *_ in table.references:
            assert order.index(target) <= order.index(name)
