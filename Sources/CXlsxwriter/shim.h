#ifndef MTAGUARD_CXLSXWRITER_SHIM_H
#define MTAGUARD_CXLSXWRITER_SHIM_H

/* libxlsxwriter (Debian's libxlsxwriter-dev): the xlsx report's workbook, sheets, formats
 * and charts. Only Sources/MTAGuard/Report/XLSXWorkbook.swift imports it. */
#include <xlsxwriter.h>

#endif
