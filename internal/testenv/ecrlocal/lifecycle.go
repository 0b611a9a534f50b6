package ecrlocal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// maxLifecyclePolicyBytes is ECR's limit on lifecyclePolicyText.
const maxLifecyclePolicyBytes = 30720

type lifecyclePolicy struct {
	Rules *[]lifecycleRule `json:"rules"`
}

type lifecycleRule struct {
	RulePriority *json.Number `json:"rulePriority"`
	Description  *string      `json:"description"`
	Selection    *struct {
		TagStatus      string       `json:"tagStatus"`
		TagPrefixList  []string     `json:"tagPrefixList"`
		TagPatternList []string     `json:"tagPatternList"`
		CountType      string       `json:"countType"`
		CountUnit      *string      `json:"countUnit"`
		CountNumber    *json.Number `json:"countNumber"`
	} `json:"selection"`
	Action *struct {
		Type string `json:"type"`
	} `json:"action"`
}

// validateLifecyclePolicy checks text against ECR's lifecycle policy grammar for expire rules; the
// error says which rule and field are wrong.
func validateLifecyclePolicy(text string) error {
	if len(text) > maxLifecyclePolicyBytes {
		return fmt.Errorf("the policy is longer than %d characters", maxLifecyclePolicyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var p lifecyclePolicy
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("the policy is not a JSON object of the expected shape: %s", jsonProblem(err))
	}
	if dec.More() {
		return errors.New("the policy has content after its JSON object")
	}
	if p.Rules == nil || len(*p.Rules) == 0 {
		return errors.New("'rules' must be a non-empty array")
	}
	priorities := map[int64]bool{}
	var highest, anyPriority int64
	for i, rule := range *p.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		priority, ok := positiveInt(rule.RulePriority)
		if !ok {
			return fmt.Errorf("%s.rulePriority must be a positive integer", where)
		}
		if priorities[priority] {
			return fmt.Errorf("%s.rulePriority %d is used by another rule; priorities must be unique", where, priority)
		}
		priorities[priority] = true
		highest = max(highest, priority)
		sel := rule.Selection
		if sel == nil {
			return fmt.Errorf("%s.selection is required", where)
		}
		switch sel.TagStatus {
		case "tagged":
			if (len(sel.TagPrefixList) == 0) == (len(sel.TagPatternList) == 0) {
				return fmt.Errorf("%s.selection with tagStatus tagged needs exactly one of tagPrefixList and tagPatternList, non-empty", where)
			}
			for _, pattern := range sel.TagPatternList {
				if pattern == "" || strings.Count(pattern, "*") > 4 {
					return fmt.Errorf("%s.selection.tagPatternList entries must be non-empty with at most 4 wildcards", where)
				}
			}
			for _, prefix := range sel.TagPrefixList {
				if prefix == "" {
					return fmt.Errorf("%s.selection.tagPrefixList entries must be non-empty", where)
				}
			}
		case "untagged", "any":
			if len(sel.TagPrefixList) > 0 || len(sel.TagPatternList) > 0 {
				return fmt.Errorf("%s.selection: tagPrefixList and tagPatternList are allowed only with tagStatus tagged", where)
			}
			if sel.TagStatus == "any" {
				anyPriority = priority
			}
		default:
			return fmt.Errorf("%s.selection.tagStatus must be one of tagged, untagged, any", where)
		}
		switch sel.CountType {
		case "imageCountMoreThan":
			if sel.CountUnit != nil {
				return fmt.Errorf("%s.selection.countUnit is allowed only with countType sinceImagePushed", where)
			}
		case "sinceImagePushed":
			if sel.CountUnit == nil || *sel.CountUnit != "days" {
				return fmt.Errorf("%s.selection.countUnit must be days with countType sinceImagePushed", where)
			}
		default:
			return fmt.Errorf("%s.selection.countType must be one of imageCountMoreThan, sinceImagePushed", where)
		}
		if _, ok := positiveInt(sel.CountNumber); !ok {
			return fmt.Errorf("%s.selection.countNumber must be a positive integer", where)
		}
		if rule.Action == nil || rule.Action.Type != "expire" {
			return fmt.Errorf("%s.action.type must be expire", where)
		}
	}
	if anyPriority != 0 && anyPriority != highest {
		return errors.New("a rule with tagStatus any must have the highest rulePriority")
	}
	return nil
}

func positiveInt(n *json.Number) (int64, bool) {
	if n == nil {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil && v > 0
}
