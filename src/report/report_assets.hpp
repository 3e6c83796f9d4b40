#pragma once
// The report page's styles and drawing code (report_page.css, report_page.js), embedded into the binary at
// build time (CMakeLists.txt generates report_assets.cpp), so a report needs no file beside the binary.

namespace tf::report {

extern const char* const kReportCss;
extern const char* const kReportJs;

}  // namespace tf::report
