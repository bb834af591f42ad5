from sriovcheck.entry import main_entry

main_entry()
