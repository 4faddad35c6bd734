// The DynamoDB fake's expressions: condition and update expressions
// evaluated against one item.

package awsfake

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// evaluator evaluates condition and update expressions against one item
// (nil when the item does not exist).
type evaluator struct {
	item   Item
	names  map[string]string
	values map[string]Value

	toks []string
	pos  int
}

// tokenize splits an expression into names, placeholders, comparators and
// punctuation.
func tokenize(expr string) ([]string, error) {
	var toks []string
	for i := 0; i < len(expr); {
		c := rune(expr[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case strings.ContainsRune("(),", c):
			toks = append(toks, string(c))
			i++
		case strings.ContainsRune("=<>", c):
			j := i + 1
			if j < len(expr) && (expr[i:j+1] == "<=" || expr[i:j+1] == ">=" || expr[i:j+1] == "<>") {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		case c == '#' || c == ':' || c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c):
			j := i + 1
			for j < len(expr) && (expr[j] == '_' || expr[j] == '.' || unicode.IsLetter(rune(expr[j])) || unicode.IsDigit(rune(expr[j]))) {
				j++
			}
			toks = append(toks, expr[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

func (e *evaluator) peek() string {
	if e.pos < len(e.toks) {
		return e.toks[e.pos]
	}
	return ""
}

func (e *evaluator) take() string { t := e.peek(); e.pos++; return t }

func (e *evaluator) expect(tok string) error {
	if got := e.take(); got != tok {
		return fmt.Errorf("expected %q, got %q", tok, got)
	}
	return nil
}

// condition evaluates a whole condition expression.
func (e *evaluator) condition(expr string) (bool, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return false, err
	}
	e.toks, e.pos = toks, 0
	v, err := e.or()
	if err != nil {
		return false, err
	}
	if e.pos != len(e.toks) {
		return false, fmt.Errorf("unexpected %q", e.peek())
	}
	return v, nil
}

func (e *evaluator) or() (bool, error) {
	v, err := e.and()
	for err == nil && strings.EqualFold(e.peek(), "OR") {
		e.take()
		var w bool
		w, err = e.and()
		v = v || w
	}
	return v, err
}

func (e *evaluator) and() (bool, error) {
	v, err := e.not()
	for err == nil && strings.EqualFold(e.peek(), "AND") {
		e.take()
		var w bool
		w, err = e.not()
		v = v && w
	}
	return v, err
}

func (e *evaluator) not() (bool, error) {
	if strings.EqualFold(e.peek(), "NOT") {
		e.take()
		v, err := e.not()
		return !v, err
	}
	return e.primary()
}

func (e *evaluator) primary() (bool, error) {
	switch tok := e.peek(); {
	case tok == "(":
		e.take()
		v, err := e.or()
		if err != nil {
			return false, err
		}
		return v, e.expect(")")
	case tok == "attribute_exists" || tok == "attribute_not_exists":
		e.take()
		if err := e.expect("("); err != nil {
			return false, err
		}
		name, err := e.path(e.take())
		if err != nil {
			return false, err
		}
		if err := e.expect(")"); err != nil {
			return false, err
		}
		_, has := e.item[name]
		return has == (tok == "attribute_exists"), nil
	}
	left, lok, err := e.operand(e.take())
	if err != nil {
		return false, err
	}
	op := e.take()
	right, rok, err := e.operand(e.take())
	if err != nil {
		return false, err
	}
	if !lok || !rok {
		return false, nil // a comparison with a missing attribute is false
	}
	return compare(left, op, right)
}

// path resolves an attribute name or #placeholder.
func (e *evaluator) path(tok string) (string, error) {
	if strings.HasPrefix(tok, "#") {
		name, ok := e.names[tok]
		if !ok {
			return "", fmt.Errorf("undefined attribute name %s", tok)
		}
		return name, nil
	}
	if tok == "" || strings.HasPrefix(tok, ":") {
		return "", fmt.Errorf("expected an attribute name, got %q", tok)
	}
	return tok, nil
}

// operand resolves a :placeholder or an attribute of the item; ok is false
// for a missing attribute.
func (e *evaluator) operand(tok string) (v Value, ok bool, err error) {
	if strings.HasPrefix(tok, ":") {
		v, ok := e.values[tok]
		if !ok {
			return Value{}, false, fmt.Errorf("undefined attribute value %s", tok)
		}
		return v, true, nil
	}
	name, err := e.path(tok)
	if err != nil {
		return Value{}, false, err
	}
	v, ok = e.item[name]
	return v, ok, nil
}

// compare applies a comparator; values of different types are unequal and
// unordered, as in DynamoDB.
func compare(a Value, op string, b Value) (bool, error) {
	var c int
	switch {
	case a.S != nil && b.S != nil:
		c = strings.Compare(*a.S, *b.S)
	case a.N != nil && b.N != nil:
		x, err1 := strconv.ParseFloat(*a.N, 64)
		y, err2 := strconv.ParseFloat(*b.N, 64)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("bad number %s or %s", *a.N, *b.N)
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case a.BOOL != nil && b.BOOL != nil && (op == "=" || op == "<>"):
		if *a.BOOL != *b.BOOL {
			c = 1
		}
	default:
		return op == "<>", nil
	}
	switch op {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparator %q", op)
}

// setValue reads the value of a SET action: an operand, or
// if_not_exists(path, operand).
func (e *evaluator) setValue() (Value, bool, error) {
	tok := e.take()
	if tok != "if_not_exists" {
		return e.operand(tok)
	}
	if err := e.expect("("); err != nil {
		return Value{}, false, err
	}
	name, err := e.path(e.take())
	if err != nil {
		return Value{}, false, err
	}
	if err := e.expect(","); err != nil {
		return Value{}, false, err
	}
	fallback, ok, err := e.operand(e.take())
	if err != nil {
		return Value{}, false, err
	}
	if err := e.expect(")"); err != nil {
		return Value{}, false, err
	}
	if v, has := e.item[name]; has {
		return v, true, nil
	}
	return fallback, ok, nil
}

// update applies "SET a = :v, b = if_not_exists(b, :w) REMOVE c, d" to
// item.
func (e *evaluator) update(expr string, item Item) error {
	toks, err := tokenize(expr)
	if err != nil {
		return err
	}
	e.toks, e.pos = toks, 0
	if len(toks) == 0 {
		return fmt.Errorf("empty expression")
	}
	for e.pos < len(e.toks) {
		clause := strings.ToUpper(e.take())
		for {
			name, err := e.path(e.take())
			if err != nil {
				return err
			}
			if name == "pk" {
				return fmt.Errorf("cannot update the key attribute pk")
			}
			switch clause {
			case "SET":
				if err := e.expect("="); err != nil {
					return err
				}
				v, ok, err := e.setValue()
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("SET %s from a missing attribute", name)
				}
				item[name] = v
			case "REMOVE":
				delete(item, name)
			default:
				return fmt.Errorf("unsupported clause %q", clause)
			}
			if e.peek() != "," {
				break
			}
			e.take()
		}
	}
	return nil
}
