-- tables imported by the user and the file each came from (the Tables list's source column)
select table_name, source_file
from imported_tables
order by table_name
